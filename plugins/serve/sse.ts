import type http from 'node:http';

/**
 * Server-sent events for one answer. The 200 status and headers go out with the first event, so
 * a request that fails before producing anything still gets an ordinary error response.
 */
export class SseWriter {
  started = false;

  constructor(private readonly res: http.ServerResponse) {}

  send(event: unknown): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    if (!this.started) {
      this.res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      this.started = true;
    }
    this.res.write(`data: ${JSON.stringify(event)}\n\n`);
  }

  /** OpenAI's end-of-stream marker. */
  done(): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    if (!this.started)
      this.res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
    this.started = true;
    this.res.end('data: [DONE]\n\n');
  }
}
