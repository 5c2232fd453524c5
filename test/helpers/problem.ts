import { expect } from 'vitest';

/** The documented error body: RFC 9457 fields and the reference's fields, with the given status and code. */
export function expectProblem(
  res: { status: number; text: string; headers?: Record<string, unknown> },
  status: number,
  exception: string,
): Record<string, unknown> {
  expect(res.status, res.text.slice(0, 500)).toBe(status);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(body).toMatchObject({
    type: `urn:eformidling-ip:error:${exception}`,
    status,
    exception,
    title: expect.any(String),
    detail: expect.any(String),
    instance: expect.stringMatching(/^urn:request:/),
    timestamp: expect.any(String),
    error: body.title,
    message: body.detail,
    path: expect.any(String),
  });
  return body;
}
