/**
 * A Server-Sent Events reader (the WHATWG rules our server uses), for runtimes without
 * `EventSource` (Node) and for streams that need our headers and retries.
 */

export interface ServerSentEvent {
  event: string;
  data: string;
  id: string | null;
  retry: number | null;
}

/** Fed one line at a time (without its line break); returns an event when a blank line ends one. */
export class SSEDecoder {
  private event = "";
  private data: string[] = [];
  private lastId: string | null = null;
  private retry: number | null = null;

  feed(line: string): ServerSentEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null; // a comment: keep-alive
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") this.event = value;
    else if (name === "data") this.data.push(value);
    else if (name === "id" && !value.includes("\0")) this.lastId = value;
    else if (name === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }

  /** Dispatch an event left open when the stream ended without a final blank line. */
  flush(): ServerSentEvent | null {
    return this.dispatch();
  }

  private dispatch(): ServerSentEvent | null {
    if (this.data.length === 0 && !this.event) return null;
    const event: ServerSentEvent = {
      event: this.event || "message",
      data: this.data.join("\n"),
      id: this.lastId,
      retry: this.retry,
    };
    this.event = "";
    this.data = [];
    this.retry = null; // the last id persists, per the spec
    return event;
  }
}

/** Split a byte stream into lines (`\n`, `\r\n` or `\r`), decoding UTF-8 across chunk borders. */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let pendingCR = false; // a chunk ended in "\r": a "\n" starting the next one belongs to it
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      buffer += decoder.decode(value, { stream: true });
      if (pendingCR && buffer.startsWith("\n")) buffer = buffer.slice(1);
      pendingCR = false;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const ch = buffer[i];
        if (ch !== "\n" && ch !== "\r") continue;
        yield buffer.slice(start, i);
        if (ch === "\r") {
          if (i + 1 === buffer.length) pendingCR = true;
          else if (buffer[i + 1] === "\n") i++;
        }
        start = i + 1;
      }
      buffer = buffer.slice(start);
    }
    buffer += decoder.decode();
    if (buffer) yield buffer;
  } finally {
    // Stopped early (the consumer broke out, or an error): close the connection too.
    if (finished) reader.releaseLock();
    else await reader.cancel().catch(() => undefined);
  }
}
