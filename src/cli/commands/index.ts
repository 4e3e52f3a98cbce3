import type { Command } from '../command.js';
import { command as crd } from './crd.js';
import { command as demo } from './demo.js';
import { command as operator } from './operator.js';
import { command as parked } from './parked.js';
import { command as publish } from './publish.js';
import { command as run } from './run.js';
import { command as validate } from './validate.js';
import { command as worker } from './worker.js';

/** Every subcommand, in the order `ladder --help` lists them. */
export const commands: Command[] = [validate, crd, run, worker, publish, parked, demo, operator];
