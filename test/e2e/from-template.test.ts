/**
 * `inventory local --from-template` as a user (or an acceptance suite) runs it: the app synthesized
 * into a temporary directory as `npx cdk synth -o DIR` writes it, the CLI in a separate process,
 * the bundled functions run under their synthesized roles on a moto server that enforces IAM. The
 * final table, the rejects and the alerts are compared with the independent model; with a grant
 * removed from a copy of the template, the denial is reported and the run exits 1.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMoto, type MotoServer } from '../../src/local/moto';
import type { CfnTemplate } from '../../src/local/template/assembly';
import { settings } from '../../src/shared/settings';
import { synthesizePipeline, type SynthesizedPipeline } from '../cdk/synth';
import { actualTable, csvText, expectedRejects, InventoryModel, sortItems, tempDirectory, writeCsv, type Line } from './model';
import { inventory as runInventory } from '../support/cli';

const templateFile = 'InventoryPipeline-dev.template.json';
const account = '123456789012';
const directory = tempDirectory();
let pipeline: SynthesizedPipeline;
let template: CfnTemplate;
let moto: MotoServer;

beforeAll(async () => {
  pipeline = synthesizePipeline({ context: { stage: 'dev' }, bundle: true });
  template = JSON.parse(readFileSync(join(pipeline.outdir, templateFile), 'utf8')) as CfnTemplate;
  moto = await startMoto({ enforceIam: true, oneRequestAtATime: true });
});

afterAll(async () => {
  await moto?.stop();
  pipeline?.dispose();
  rmSync(directory, { recursive: true, force: true });
});

/** The CLI in its own process; with `administrator`, that key is the one the environment gives it. */
function inventory(args: string[], administrator?: { accessKeyId: string; secretAccessKey: string }) {
  const { AWS_SESSION_TOKEN: _token, AWS_PROFILE: _profile, ...env } = process.env;
  if (administrator) Object.assign(env, { AWS_ACCESS_KEY_ID: administrator.accessKeyId, AWS_SECRET_ACCESS_KEY: administrator.secretAccessKey });
  return runInventory(args, env);
}

interface Denial {
  function: string;
  action: string;
  resource: string;
  message: string;
}

interface Document {
  resources: Record<string, string>;
  summary: Record<string, unknown>;
  accessDenied: number;
  callsAuthorized: number;
  accessDenials: Denial[];
  grants: { function: string; role: string; used: { action: string; resources: string[] }[]; unused: { action: string }[] }[];
  files: { file: string; status: string; reason?: string }[];
  rejects: { file: string; line: number; reason: string }[];
  alerts: { type: string; store: string; product: string; count: number; previousCount: number | null; threshold: number }[];
}

const resourceOfType = (type: string, logicalIdPrefix: string) =>
  Object.entries(template.Resources).find(([id, resource]) => resource.Type === type && id.startsWith(logicalIdPrefix))![1];

/** The threshold the template gives items no row gave one: the writer's DEFAULT_THRESHOLD. */
const templateThreshold = () =>
  Number((resourceOfType('AWS::Lambda::Function', 'Writer').Properties!.Environment as { Variables: Record<string, string> }).Variables.DEFAULT_THRESHOLD);

/** A copy of the assembly with its template changed by `edit`. */
function editedAssembly(edit: (template: CfnTemplate) => void): string {
  const copy = mkdtempSync(join(tmpdir(), 'inventory-assembly-'));
  cpSync(pipeline.outdir, copy, { recursive: true });
  const edited = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  edit(edited);
  expect(JSON.stringify(edited)).not.toEqual(JSON.stringify(template));
  writeFileSync(join(copy, templateFile), JSON.stringify(edited));
  return copy;
}

/** A copy of the assembly whose role policy `policyPrefix` no longer grants `action`. */
function withoutGrant(policyPrefix: string, action: string): string {
  return editedAssembly((edited) => {
    const policy = Object.entries(edited.Resources).find(([id, resource]) => resource.Type === 'AWS::IAM::Policy' && id.startsWith(policyPrefix))![1];
    const document = policy.Properties!.PolicyDocument as { Statement: { Action: string | string[] }[] };
    document.Statement = document.Statement.flatMap((statement) => {
      const actions = [statement.Action].flat().filter((granted) => granted !== action);
      return actions.length === 0 ? [] : [{ ...statement, Action: actions }];
    });
  });
}

const strip = (alerts: Document['alerts']) =>
  sortItems(alerts.map(({ type, store, product, count, previousCount, threshold }) => ({ type, store, product, count, previousCount, threshold })));
const ofStore = (prefix: string) => (store: string) => store.startsWith(prefix);

test('files run through the synthesized stack: the table, rejects and alerts match the model, every call was authorized, and each role shows the grants it used', async () => {
  const model = new InventoryModel(templateThreshold());
  const night1: Line[] = [
    { store: 'TP1', product: 'Milk 1L', count: 42, threshold: 20 },
    { store: 'TP1', product: 'Eggs, free range', count: 3 },
    { raw: 'TP1,Bread,lots,', reason: /count 'lots' is not a whole number/ },
    { store: 'TP2', product: 'Tea "green"', count: 12 },
  ];
  const night2: Line[] = [
    { store: 'TP1', product: 'Milk 1L', count: 12 },
    { store: 'TP1', product: 'Eggs, free range', count: 30 },
    { store: 'TP2', product: 'Tea "green"', count: 12, threshold: 15 },
  ];
  const files = [writeCsv(directory, 'night1.csv', csvText(night1)), writeCsv(directory, 'night2.csv', csvText(night2))];
  const expectedAlerts = [...model.applyFile(night1), ...model.applyFile(night2)];

  const result = await inventory(['local', '--from-template', pipeline.outdir, '--endpoint', moto.endpoint, '--json', ...files], moto.administrator);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const document = JSON.parse(result.stdout) as Document;
  expect(document.summary).toMatchObject({
    files: 2,
    filesFailed: 0,
    rowsRead: night1.length + night2.length,
    rowsRejected: 1,
    rowsApplied: night1.length - 1 + night2.length,
    deadLettered: 0,
    accessDenied: 0,
    accessDenials: [],
  });
  expect(document.accessDenied).toBe(0);
  expect(document.accessDenials).toEqual([]);
  expect(document.callsAuthorized).toBeGreaterThan(0);
  expect(document.summary.callsAuthorized).toBe(document.callsAuthorized);
  expect(document.rejects).toEqual(expectedRejects(night1).map((r) => ({ file: 'night1.csv', line: r.line, reason: expect.stringMatching(r.reason) })));
  expect(strip(document.alerts)).toEqual(sortItems(expectedAlerts));
  expect(await actualTable(moto.endpoint, document.resources.table!, ofStore('TP'), moto.administrator)).toEqual(model.table(ofStore('TP')));

  // What each function's calls (and its mapping's) used of its role; nothing local writes logs.
  const used = (fn: string) => document.grants.find((g) => g.function === fn)!.used.map((grant) => grant.action);
  const unused = (fn: string) => document.grants.find((g) => g.function === fn)!.unused.map((grant) => grant.action);
  expect(used('splitter')).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 's3:GetObject', 's3:PutObject', 'sqs:SendMessage']));
  expect(used('writer')).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'dynamodb:UpdateItem']));
  expect(used('alerter')).toEqual(expect.arrayContaining(['dynamodb:GetRecords', 'sns:Publish']));
  for (const fn of ['splitter', 'writer', 'alerter']) expect(unused(fn)).toContain('logs:PutLogEvents');
});

test('a template whose splitter is store-scoped (STORE_SCOPED_UPLOADS=true, as -c storeScopedUploads=true sets it) runs store-scoped without --store-scoped: files under their directory’s store, a row for another store rejected, every call authorized', async () => {
  const assembly = editedAssembly((edited) => {
    const splitter = Object.entries(edited.Resources).find(([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith('Splitter'))![1];
    (splitter.Properties!.Environment as { Variables: Record<string, string> }).Variables[settings.env.storeScopedUploads] = 'true';
  });
  try {
    const model = new InventoryModel(templateThreshold());
    const night: Line[] = [
      { store: 'TU12', product: 'Flour', count: 2 },
      { raw: 'TU40,Flour,80,', reason: /^the row is for store 'TU40', but this upload \(under uploads\/TU12\/\) may only hold rows for store 'TU12'$/ },
    ];
    const expectedAlerts = model.applyFile(night);
    mkdirSync(join(directory, 'TU12'), { recursive: true });
    const file = writeCsv(join(directory, 'TU12'), 'night.csv', csvText(night));
    const result = await inventory(['local', '--from-template', assembly, '--endpoint', moto.endpoint, '--json', file], moto.administrator);
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout) as Document;
    expect(document.files).toEqual([expect.objectContaining({ file: 'TU12/night.csv', key: 'uploads/TU12/night.csv', status: 'processed' })]);
    expect(document.rejects).toEqual(expectedRejects(night).map((r) => ({ file: 'TU12/night.csv', line: r.line, reason: expect.stringMatching(r.reason) })));
    expect(document.accessDenials).toEqual([]);
    expect(strip(document.alerts)).toEqual(expectedAlerts);
    expect(await actualTable(moto.endpoint, document.resources.table!, ofStore('TU'), moto.administrator)).toEqual(model.table(ofStore('TU')));
  } finally {
    rmSync(assembly, { recursive: true, force: true });
  }
});

test("with the writer's sqs:DeleteMessage removed, its event source mapping is denied — on the same endpoint, whose roles now hold the copy's policies: reported, the file fails, exit 1", async () => {
  const assembly = withoutGrant('WriterRoleDefaultPolicy', 'sqs:DeleteMessage');
  try {
    const night: Line[] = [{ store: 'TQ1', product: 'Soap', count: 40 }];
    const result = await inventory(['local', '--from-template', assembly, '--endpoint', moto.endpoint, '--json', writeCsv(directory, 'tq.csv', csvText(night))], moto.administrator);
    expect(result.code).toBe(1);
    const document = JSON.parse(result.stdout) as Document;
    const rowsQueueArn = `arn:aws:sqs:us-east-1:${account}:${document.resources.queue!.slice(document.resources.queue!.lastIndexOf('/') + 1)}`;
    expect(document.accessDenials).toEqual([
      {
        function: 'writer',
        action: 'sqs:DeleteMessage',
        resource: rowsQueueArn,
        message: expect.stringMatching(/assumed-role\/.*Writer.*\/writer\.event-source-mapping is not authorized to perform: sqs:DeleteMessage/),
      },
    ]);
    expect(document.accessDenied).toBeGreaterThanOrEqual(1);
    expect(document.summary.accessDenied).toBe(document.accessDenied);
    expect(document.files).toEqual([expect.objectContaining({ file: 'tq.csv', status: 'failed', reason: expect.stringMatching(/writer's event source mapping stopped/) })]);
  } finally {
    rmSync(assembly, { recursive: true, force: true });
  }
});

test("with the alerter's sns:Publish removed, the human output names the denied call (function, action, topic) and the run exits 1", async () => {
  const assembly = withoutGrant('AlerterRoleDefaultPolicy', 'sns:Publish');
  try {
    const night: Line[] = [{ store: 'TR1', product: 'Rice 1kg', count: 1 }];
    const result = await inventory(['local', '--from-template', assembly, writeCsv(directory, 'tr.csv', csvText(night))]);
    expect(result.code).toBe(1);
    const topicArn = `arn:aws:sns:us-east-1:${account}:${resourceOfType('AWS::SNS::Topic', 'Alerts').Properties!.TopicName as string}`;
    expect(result.stdout).toContain(`alerter: sns:Publish on ${topicArn}`);
    expect(result.stdout).toMatch(/is not authorized to perform: sns:Publish on resource: /);
    // The alert SNS refused was parked on the alerts dead-letter queue, as the alerter does.
    expect(result.stdout).toMatch(/1 dead-lettered/);
  } finally {
    rmSync(assembly, { recursive: true, force: true });
  }
});

test('what --from-template cannot do is refused with one sentence and exit 2: an endpoint that does not enforce IAM, --faults, --threshold, --store-scoped with a template that is not, a directory that is no assembly', async () => {
  const plain = await startMoto();
  const file = writeCsv(directory, 'refused.csv', csvText([{ store: 'TS1', product: 'Salt', count: 4 }]));
  try {
    const refusals = [
      { args: ['--endpoint', plain.endpoint], says: /is not a moto server enforcing IAM with this project's patches/ },
      { args: ['--faults', 'duplicate=0.5'], says: /--faults cannot be combined with --from-template/ },
      { args: ['--threshold', '5'], says: /--threshold cannot be combined with --from-template/ },
      // The template's splitter is not store-scoped; the option cannot make it so.
      { args: ['--store-scoped'], says: /^inventory: --store-scoped contradicts the template: its splitter is not store-scoped/ },
    ];
    for (const { args, says } of refusals) {
      const result = await inventory(['local', '--from-template', pipeline.outdir, '--json', ...args, file], { accessKeyId: 'any', secretAccessKey: 'any' });
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(says)]);
    }
    const notAnAssembly = await inventory(['local', '--from-template', directory, '--json', file]);
    expect(notAnAssembly.code).toBe(2);
    expect(notAnAssembly.stderr).toMatch(/is not a cloud assembly \(it has no manifest\.json\); write one with `npx cdk synth -o/);
  } finally {
    await plain.stop();
  }
});
