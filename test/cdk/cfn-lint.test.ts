/**
 * cfn-lint (pinned in requirements.txt, installed into .venv) on the synthesized templates: no
 * errors and no warnings, so that anyone linting the template finds nothing to explain.
 */
import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { ensurePythonTools, venvBin } from '../../src/local/venv';
import { synthesizePipeline, type SynthesizedPipeline } from './synth';

interface CfnLintFinding {
  Filename: string;
  Level: 'Error' | 'Warning' | 'Informational';
  Message: string;
  Rule: { Id: string };
  Location: { Path: (string | number)[] };
}

/** cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational findings; anything else means it failed to run. */
const cfnLintFindingBits = 2 | 4 | 8;

/** One cfn-lint run for all templates: its start-up (loading the resource schemas) is most of its time. */
function cfnLint(templateFiles: string[]): { status: number; findings: CfnLintFinding[] } {
  const result = spawnSync(venvBin('cfn-lint'), ['--format', 'json', '--', ...templateFiles], { encoding: 'utf8' });
  if (result.error) throw result.error;
  const status = result.status ?? -1;
  if ((status & ~cfnLintFindingBits) !== 0) throw new Error(`cfn-lint failed to run (exit ${status}):\n${result.stdout}\n${result.stderr}`);
  return { status, findings: result.stdout.trim() ? (JSON.parse(result.stdout) as CfnLintFinding[]) : [] };
}

const describeFinding = (finding: CfnLintFinding) =>
  `${basename(finding.Filename)} ${finding.Rule.Id} ${finding.Location.Path.join('/')}: ${finding.Message}`;

let pipelines: SynthesizedPipeline[] = [];
beforeAll(() => {
  ensurePythonTools();
  pipelines = [
    ...['dev', 'prod'].map((stage) => synthesizePipeline({ context: { stage, alertEmail: 'ops@example.com' } })),
    // Every capacity and concurrency value set: warm throughput, on-demand maximum, reserved concurrency.
    synthesizePipeline({ context: { stage: 'prod', tableWarmWriteUnits: '20000', tableMaxWriteUnits: '30000', reserveConcurrency: 'true' } }),
  ];
});
afterAll(() => {
  for (const pipeline of pipelines) pipeline.dispose();
});

test('cfn-lint finds nothing in the dev and prod templates, nor in prod with every capacity value set: no errors, no warnings', () => {
  const { status, findings } = cfnLint(pipelines.map((pipeline) => join(pipeline.outdir, pipeline.stack.templateFile)));
  expect(findings.filter((finding) => finding.Level !== 'Informational').map(describeFinding)).toEqual([]);
  expect(status & (2 | 4)).toBe(0);
});
