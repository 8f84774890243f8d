import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';

/**
 * A small in-memory model of SQS, behind clients mocked with
 * aws-sdk-client-mock (no SQS emulator can be installed here). It keeps the
 * semantics the adapters depend on, per queue URL:
 * - send: FIFO queues (URL ending `.fifo`) need a group and a deduplication
 *   id; a deduplication id seen within five minutes adds nothing and answers
 *   the first message's id.
 * - receive: long polling up to `WaitTimeSeconds`; a received message is
 *   invisible for its visibility timeout, then delivered again with a new
 *   receipt handle and a higher `ApproximateReceiveCount`; on FIFO queues a
 *   group with a message in flight delivers nothing else, and groups deliver
 *   in send order.
 * - ChangeMessageVisibility (only while in flight, with the current
 *   receipt: otherwise `MessageNotInflight`), DeleteMessage.
 * Faults are injected per command: throttling errors for the next n calls,
 * failed batch entries, a client cut off (a crashed process).
 */
export class FakeSqs {
  readonly #queues = new Map<string, FakeQueue>();
  readonly #faults = new Map<string, Array<() => Error>>();
  readonly #entryFaults: Array<(entry: SendMessageBatchRequestEntry) => { Code: string; Message: string; SenderFault: boolean } | undefined> = [];
  /** Every call, in order: [command name, input]. */
  readonly calls: Array<[string, unknown]> = [];

  /** A client mocked onto this fake. `severed()` true: every call of this client hangs (as if its process died). */
  client(severed: () => boolean = () => false): SQSClient {
    const client = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const mock = mockClient(client);
    const wrap =
      <I,>(name: string, fn: (input: I) => unknown) =>
      async (input: I) => {
        if (severed()) return new Promise(() => {});
        this.calls.push([name, input]);
        const fault = this.#faults.get(name)?.shift();
        if (fault) throw fault();
        return fn(input);
      };
    mock.on(SendMessageCommand).callsFake(wrap('SendMessage', (i: SendMessageCommand['input']) => this.#send(i.QueueUrl!, i)));
    mock.on(SendMessageBatchCommand).callsFake(wrap('SendMessageBatch', (i: SendMessageBatchCommand['input']) => this.#sendBatch(i)));
    mock.on(ReceiveMessageCommand).callsFake(wrap('ReceiveMessage', (i: ReceiveMessageCommand['input']) => this.#receive(i)));
    mock.on(DeleteMessageCommand).callsFake(wrap('DeleteMessage', (i: DeleteMessageCommand['input']) => this.#delete(i.QueueUrl!, i.ReceiptHandle!)));
    mock.on(ChangeMessageVisibilityCommand).callsFake(wrap('ChangeMessageVisibility', (i: ChangeMessageVisibilityCommand['input']) => this.#changeVisibility(i.QueueUrl!, i.ReceiptHandle!, i.VisibilityTimeout!)));
    mock.on(GetQueueAttributesCommand).callsFake(wrap('GetQueueAttributes', (i: GetQueueAttributesCommand['input']) => ({ Attributes: { ApproximateNumberOfMessages: String(this.queue(i.QueueUrl!).messages.length) } })));
    return client;
  }

  /** The next `times` calls of `command` (e.g. 'SendMessageBatch') fail with an SQS throttling error named `name`. */
  throttle(command: string, times: number, name: 'ThrottlingException' | 'RequestThrottled' = 'ThrottlingException'): void {
    const list = this.#faults.get(command) ?? [];
    for (let i = 0; i < times; i++) list.push(() => sqsError(name, 400, { throttling: true }));
    this.#faults.set(command, list);
  }

  /** The next call of `command` fails with `error`. */
  failNext(command: string, error: () => Error): void {
    const list = this.#faults.get(command) ?? [];
    list.push(error);
    this.#faults.set(command, list);
  }

  /** Batch entries for which `rule` returns a failure are reported under `Failed` (and not stored), once per rule call. */
  failEntries(rule: (entry: SendMessageBatchRequestEntry) => { Code: string; Message: string; SenderFault: boolean } | undefined): void {
    this.#entryFaults.push(rule);
  }

  /** The queue at `url` (created on first use). */
  queue(url: string): FakeQueue {
    let q = this.#queues.get(url);
    if (!q) {
      q = { url, fifo: url.endsWith('.fifo'), messages: [], dedup: new Map(), seq: 0 };
      this.#queues.set(url, q);
    }
    return q;
  }

  /** Delivers a copy of a message again (SQS's at-least-once delivery): the same MessageId and body, visible now. */
  redeliver(url: string, messageId: string, body: string, groupId?: string): void {
    const q = this.queue(url);
    q.messages.push({ id: messageId, body, groupId, seq: ++q.seq, visibleAt: 0, receiveCount: 0, receipt: undefined, sentAt: Date.now() });
  }

  /** Bodies of the messages sent to `url` and not yet deleted, in order. */
  bodies(url: string): string[] {
    return this.queue(url).messages.map((m) => m.body);
  }

  #send(url: string, input: { MessageBody?: string | undefined; MessageGroupId?: string | undefined; MessageDeduplicationId?: string | undefined; DelaySeconds?: number | undefined }) {
    const q = this.queue(url);
    if (!input.MessageBody) throw sqsError('MissingParameter', 400);
    if (Buffer.byteLength(input.MessageBody) > 256 * 1024) throw sqsError('InvalidParameterValue', 400);
    if (q.fifo) {
      if (!input.MessageGroupId || !input.MessageDeduplicationId) throw sqsError('MissingParameter', 400);
      if (input.DelaySeconds) throw sqsError('InvalidParameterValue', 400);
      const seen = q.dedup.get(input.MessageDeduplicationId);
      if (seen && Date.now() - seen.at < 5 * 60_000) return { MessageId: seen.id };
    }
    const id = randomUUID();
    if (q.fifo) q.dedup.set(input.MessageDeduplicationId!, { id, at: Date.now() });
    q.messages.push({ id, body: input.MessageBody, groupId: input.MessageGroupId, seq: ++q.seq, visibleAt: Date.now() + (input.DelaySeconds ?? 0) * 1000, receiveCount: 0, receipt: undefined, sentAt: Date.now() });
    return { MessageId: id };
  }

  #sendBatch(input: SendMessageBatchCommand['input']) {
    const entries = input.Entries ?? [];
    if (entries.length === 0 || entries.length > 10) throw sqsError('TooManyEntriesInBatchRequest', 400);
    const total = entries.reduce((n, e) => n + Buffer.byteLength(e.MessageBody ?? ''), 0);
    if (total > 256 * 1024) throw sqsError('BatchRequestTooLong', 400);
    const Successful: Array<{ Id: string; MessageId: string; MD5OfMessageBody: string }> = [];
    const Failed: Array<{ Id: string; Code: string; Message: string; SenderFault: boolean }> = [];
    for (const e of entries) {
      const fault = this.#entryFaults.map((rule) => rule(e)).find(Boolean);
      if (fault) {
        Failed.push({ Id: e.Id!, ...fault });
        continue;
      }
      try {
        const { MessageId } = this.#send(input.QueueUrl!, e);
        Successful.push({ Id: e.Id!, MessageId, MD5OfMessageBody: '' });
      } catch (error) {
        Failed.push({ Id: e.Id!, Code: (error as Error).name, Message: (error as Error).message, SenderFault: true });
      }
    }
    return { Successful, Failed };
  }

  async #receive(input: ReceiveMessageCommand['input']) {
    const q = this.queue(input.QueueUrl!);
    const max = input.MaxNumberOfMessages ?? 1;
    const deadline = Date.now() + (input.WaitTimeSeconds ?? 0) * 1000;
    const visibility = input.VisibilityTimeout ?? 30;
    for (;;) {
      const now = Date.now();
      const out: Message[] = [];
      const blocked = new Set<string>();
      for (const m of [...q.messages].sort((a, b) => a.seq - b.seq)) {
        if (out.length >= max) break;
        const inFlight = m.receipt !== undefined && m.visibleAt > now;
        if (q.fifo && m.groupId !== undefined) {
          if (blocked.has(m.groupId)) continue;
          // FIFO: the group's oldest message goes first; while it is in flight (or delayed), the group waits.
          blocked.add(m.groupId);
          if (inFlight || m.visibleAt > now) continue;
        } else if (inFlight || m.visibleAt > now) continue;
        m.receiveCount++;
        m.receipt = randomUUID();
        m.visibleAt = now + visibility * 1000;
        out.push({
          MessageId: m.id,
          ReceiptHandle: m.receipt,
          Body: m.body,
          Attributes: { ApproximateReceiveCount: String(m.receiveCount), SentTimestamp: String(m.sentAt), ...(m.groupId ? { MessageGroupId: m.groupId } : {}) },
        });
      }
      if (out.length > 0 || Date.now() >= deadline) return { Messages: out };
      // Unref'd: a long poll its caller gave up on (a mocked client ignores the abort signal) must not keep the test process alive.
      await new Promise((resolve) => setTimeout(resolve, 20).unref());
    }
  }

  #delete(url: string, receipt: string) {
    const q = this.queue(url);
    const i = q.messages.findIndex((m) => m.receipt === receipt);
    if (i >= 0) q.messages.splice(i, 1);
    // A stale receipt handle of a message since received again (or already deleted): SQS accepts it and does nothing.
    return {};
  }

  #changeVisibility(url: string, receipt: string, seconds: number) {
    const q = this.queue(url);
    const m = q.messages.find((x) => x.receipt === receipt);
    if (!m || m.visibleAt <= Date.now()) throw sqsError('MessageNotInflight', 400);
    m.visibleAt = Date.now() + seconds * 1000;
    return {};
  }
}

interface FakeMessage {
  id: string;
  body: string;
  groupId: string | undefined;
  seq: number;
  visibleAt: number;
  receiveCount: number;
  receipt: string | undefined;
  sentAt: number;
}

/** One fake queue's state. */
export interface FakeQueue {
  url: string;
  fifo: boolean;
  messages: FakeMessage[];
  dedup: Map<string, { id: string; at: number }>;
  seq: number;
}

/** An error shaped as the SDK raises a service error. */
export function sqsError(name: string, status: number, retryable?: { throttling: boolean }): Error {
  const error = new Error(`${name} (fake SQS)`) as Error & { $metadata: object; $fault: string; $retryable?: object };
  error.name = name;
  error.$metadata = { httpStatusCode: status };
  error.$fault = status >= 500 ? 'server' : 'client';
  if (retryable) error.$retryable = retryable;
  return error;
}
