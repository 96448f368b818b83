// `Content-Encoding: aws-chunked` bodies, which recent AWS SDKs and CLIs send for uploads they checksum on the fly
// (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER or STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]):
//   <hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n ... 0[;chunk-signature=<sig>]\r\n[<trailer>:<value>\r\n]*\r\n
// Decoded to the object's bytes; trailers (x-amz-checksum-*) are collected for the caller to check.
// Chunk signatures are not verified: the seed signature of the request is.
import { Transform, type TransformCallback } from "node:stream";

export class AwsChunkedDecoder extends Transform {
  readonly trailers: Record<string, string> = {};
  private buffer: Buffer = Buffer.alloc(0);
  private remaining = -1; // bytes of the current chunk still to pass on; -1: a size line is next
  private state: "size" | "data" | "crlf" | "trailers" | "done" = "size";

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    try {
      this.drain();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state !== "done" && !(this.state === "trailers" && this.buffer.length === 0)) {
      callback(new Error("the aws-chunked body ended before its last chunk"));
      return;
    }
    callback();
  }

  private line(): string | undefined {
    const end = this.buffer.indexOf("\r\n");
    if (end === -1) {
      if (this.buffer.length > 8192) throw new Error("an aws-chunked header line is too long");
      return undefined;
    }
    const text = this.buffer.subarray(0, end).toString("latin1");
    this.buffer = this.buffer.subarray(end + 2);
    return text;
  }

  private drain(): void {
    for (;;) {
      if (this.state === "size") {
        const text = this.line();
        if (text === undefined) return;
        const size = Number.parseInt(text.split(";")[0]!, 16);
        if (!Number.isFinite(size) || size < 0) throw new Error(`bad aws-chunked size line ${JSON.stringify(text.slice(0, 40))}`);
        if (size === 0) this.state = "trailers";
        else {
          this.remaining = size;
          this.state = "data";
        }
      } else if (this.state === "data") {
        if (this.buffer.length === 0) return;
        const take = Math.min(this.remaining, this.buffer.length);
        this.push(this.buffer.subarray(0, take));
        this.buffer = this.buffer.subarray(take);
        this.remaining -= take;
        if (this.remaining > 0) return;
        this.state = "crlf";
      } else if (this.state === "crlf") {
        if (this.buffer.length < 2) return;
        if (this.buffer[0] !== 13 || this.buffer[1] !== 10) throw new Error("an aws-chunked chunk does not end with CRLF");
        this.buffer = this.buffer.subarray(2);
        this.state = "size";
      } else if (this.state === "trailers") {
        const text = this.line();
        if (text === undefined) return;
        if (text === "") {
          this.state = "done";
          continue;
        }
        const colon = text.indexOf(":");
        if (colon > 0) this.trailers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
      } else {
        this.buffer = Buffer.alloc(0);
        return;
      }
    }
  }
}
