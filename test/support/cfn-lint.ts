/**
 * cfn-lint (pinned in requirements.txt, installed into .venv) on template files: its findings as
 * data, so a test can require that there are none.
 */
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { venvBin } from '../../src/local/venv';

export interface CfnLintFinding {
  Filename: string;
  Level: 'Error' | 'Warning' | 'Informational';
  Message: string;
  Rule: { Id: string };
  Location: { Path: (string | number)[] };
}

/** cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational findings; anything else means it failed to run. */
const cfnLintFindingBits = 2 | 4 | 8;

/** One cfn-lint run for all templates: its start-up (loading the resource schemas) is most of its time. */
export function cfnLint(templateFiles: string[]): { status: number; findings: CfnLintFinding[] } {
  const result = spawnSync(venvBin('cfn-lint'), ['--format', 'json', '--', ...templateFiles], { encoding: 'utf8' });
  if (result.error) throw result.error;
  const status = result.status ?? -1;
  if ((status & ~cfnLintFindingBits) !== 0) throw new Error(`cfn-lint failed to run (exit ${status}):\n${result.stdout}\n${result.stderr}`);
  return { status, findings: result.stdout.trim() ? (JSON.parse(result.stdout) as CfnLintFinding[]) : [] };
}

export const describeFinding = (finding: CfnLintFinding) =>
  `${basename(finding.Filename)} ${finding.Rule.Id} ${finding.Location.Path.join('/')}: ${finding.Message}`;
