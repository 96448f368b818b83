// The emulator's aws-chunked decoder: chunks with or without signatures, split anywhere by the network, the
// trailers collected; a body cut short is an error, not a shorter object.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { AwsChunkedDecoder } from "../../src/emulator/s3/aws-chunked";

async function decode(wire: Buffer, pieceSize: number): Promise<{ body: Buffer; trailers: Record<string, string> }> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < wire.length; i += pieceSize) pieces.push(wire.subarray(i, i + pieceSize));
  const decoder = new AwsChunkedDecoder();
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(pieces).pipe(decoder)) out.push(chunk as Buffer);
  return { body: Buffer.concat(out), trailers: decoder.trailers };
}

const wire = Buffer.concat([
  Buffer.from("5;chunk-signature=abc\r\nhello\r\n"),
  Buffer.from("6\r\n world\r\n"),
  Buffer.from("0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"),
]);

describe("AwsChunkedDecoder", () => {
  it.each([1, 3, 7, 1024])("decodes the body and its trailers whatever the network's piece size (%i)", async (size) => {
    const { body, trailers } = await decode(wire, size);
    expect(body.toString()).toBe("hello world");
    expect(trailers).toEqual({ "x-amz-checksum-crc32": "DUoRhQ==" });
  });

  it("a body cut before its last chunk fails", async () => {
    await expect(decode(wire.subarray(0, 20), 4)).rejects.toThrow(/ended before its last chunk/);
  });

  it("a chunk that does not end with CRLF fails", async () => {
    await expect(decode(Buffer.from("5\r\nhelloXX0\r\n\r\n"), 64)).rejects.toThrow(/does not end with CRLF/);
  });
});
