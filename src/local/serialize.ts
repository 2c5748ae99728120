/**
 * What real AWS guarantees and moto server does not, restored on the local runtime's side.
 *
 * moto serves requests on parallel threads without locking its queues, items or streams:
 * concurrent SQS deletes and sends can lose or resurrect messages, concurrent receives can hand one
 * message to two pollers, two conditional UpdateItems on one item can both pass their condition,
 * and two writes at once can get the same stream sequence number — after which moto's shard
 * iterator returns the same record forever. On AWS none of this happens, so the handlers stay as
 * they are: the local runtime sends its SQS requests one at a time and its table writes one at a
 * time. (moto serves one request at a time under Python's GIL anyway; little is lost.)
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createLimiter } from '../shared/concurrency';
import type { InventoryTable } from '../writer/apply';

/** Makes the client send one request at a time (moto's SQS operations take milliseconds). */
export function oneRequestAtATime(client: SQSClient): void {
  const inTurn = createLimiter(1);
  client.middlewareStack.add((next) => (args) => inTurn(() => next(args)), { step: 'initialize', name: 'localOneRequestAtATime' });
}

/** Makes the table take one write at a time. */
export function oneWriteAtATime(table: InventoryTable): InventoryTable {
  const inTurn = createLimiter(1);
  return {
    applyRow: (row) => inTurn(() => table.applyRow(row)),
    applyThreshold: (row) => inTurn(() => table.applyThreshold(row)),
  };
}
