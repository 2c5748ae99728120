/**
 * What real AWS guarantees and moto server does not, restored on the local runtime's side.
 *
 * moto serves requests on parallel threads without locking its queues or items: concurrent SQS
 * deletes and sends can lose or resurrect messages, concurrent receives can hand one message to
 * two pollers, and two conditional UpdateItems on one item can both pass their condition. On AWS
 * none of this happens (and at-least-once delivery is handled by the version stamps anyway), so
 * the handlers stay as they are: the local runtime sends its SQS requests one at a time and
 * writes each item one row at a time.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { InventoryTable } from '../writer/apply';

/** Makes the client send one request at a time (moto's SQS operations take milliseconds). */
export function oneRequestAtATime(client: SQSClient): void {
  let tail: Promise<unknown> = Promise.resolve();
  client.middlewareStack.add(
    (next) => (args) => {
      const turn = tail.then(() => next(args));
      tail = turn.catch(() => undefined);
      return turn;
    },
    { step: 'initialize', name: 'localOneRequestAtATime' },
  );
}

/** Serializes the writes to each item (different items are still written concurrently). */
export function oneWritePerItem(table: InventoryTable): InventoryTable {
  const tails = new Map<string, Promise<unknown>>();
  const inTurn = <T>(item: { store: string; product: string }, write: () => Promise<T>): Promise<T> => {
    const key = `${item.store}\u0000${item.product}`;
    const turn = (tails.get(key) ?? Promise.resolve()).then(write, write);
    const settled = turn.catch(() => undefined);
    tails.set(key, settled);
    void settled.then(() => {
      if (tails.get(key) === settled) tails.delete(key);
    });
    return turn;
  };
  return {
    applyRow: (row) => inTurn(row, () => table.applyRow(row)),
    applyThreshold: (row) => inTurn(row, () => table.applyThreshold(row)),
  };
}
