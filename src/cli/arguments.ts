/** Option-argument parsers shared by the `inventory` command and the load test's CLI. */
import { InvalidArgumentError } from 'commander';
import { FaultSpecError, parseFaultSpec, type FaultSpec } from '../local/faults';

/** `--faults SPEC`: a bad spec is a usage error with the parser's one sentence. */
export function faultSpecArgument(value: string): FaultSpec {
  try {
    return parseFaultSpec(value);
  } catch (error) {
    if (error instanceof FaultSpecError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}
