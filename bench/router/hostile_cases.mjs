// The hostile HTTP probe's cases: raw request bytes and what a safe front server must do with
// them. Every case gets its own paths (`m.path`, `m.smuggled`), so the judge (hostile.mjs) can tell
// which of the backend's requests came from it. Expectations:
//   reject     no 1xx-3xx answer; a 4xx/5xx or a close without one; nothing of it reaches the backend
//   noSmuggle  the request may be answered (RFC 9112 §6.1 allows processing CL+TE by TE alone, then
//              closing), but the backend never sees the smuggled request, the connection is closed
//              after a 2xx, and the next client gets its own answer
//   rejectOrNormalize  reject, or forward with the offending bytes replaced (obs-fold: RFC 9112 §5.2)
//   (`long`: the case may take up to the cut bound, as an unfinished request may)
//   cut        a client that never finishes is cut (close, 408 allowed) within the bound, while
//              still sending; the backend never gets a whole request from it
const CRLF = "\r\n";

/** A complete request the smuggling cases hide in a body. */
const hidden = (m) => `GET ${m.smuggled} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}${CRLF}`;

export const CASES = [
  {
    name: "smuggle_cl_te",
    expect: "noSmuggle",
    bytes: (m) => {
      const body = `0${CRLF}${CRLF}${hidden(m)}`;
      return `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Content-Length: ${body.length}${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}${body}`;
    },
  },
  {
    name: "smuggle_te_cl",
    expect: "noSmuggle",
    bytes: (m) => {
      const chunk = hidden(m);
      return `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Content-Length: 4${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}${chunk.length.toString(16)}${CRLF}${chunk}${CRLF}0${CRLF}${CRLF}`;
    },
  },
  {
    name: "duplicate_content_length",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Content-Length: 0${CRLF}Content-Length: ${hidden(m).length}${CRLF}${CRLF}${hidden(m)}`,
  },
  {
    name: "content_length_list",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Content-Length: 0, ${hidden(m).length}${CRLF}${CRLF}${hidden(m)}`,
  },
  {
    name: "content_length_plus_sign",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Content-Length: +5${CRLF}${CRLF}hello`,
  },
  {
    name: "te_space_before_colon",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Content-Length: 5${CRLF}Transfer-Encoding : chunked${CRLF}${CRLF}0${CRLF}${CRLF}`,
  },
  {
    name: "te_xchunked",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Content-Length: 5${CRLF}Transfer-Encoding: xchunked${CRLF}${CRLF}0${CRLF}${CRLF}`,
  },
  {
    name: "te_chunked_not_last",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Transfer-Encoding: chunked, identity${CRLF}${CRLF}0${CRLF}${CRLF}`,
  },
  {
    name: "te_duplicate_header",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Transfer-Encoding: chunked${CRLF}Transfer-Encoding: x${CRLF}${CRLF}0${CRLF}${CRLF}`,
  },
  {
    name: "te_vertical_tab",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Content-Length: 5${CRLF}Transfer-Encoding:\x0bchunked${CRLF}${CRLF}0${CRLF}${CRLF}`,
  },
  {
    name: "duplicate_host",
    expect: "reject",
    bytes: (m) => `GET ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Host: other.example${CRLF}${CRLF}`,
  },
  {
    name: "missing_host",
    expect: "reject",
    bytes: (m) => `GET ${m.path} HTTP/1.1${CRLF}Connection: close${CRLF}${CRLF}`,
  },
  {
    name: "oversize_request_line",
    expect: "reject",
    bytes: (m) => `GET ${m.path}?${"a".repeat(70_000)} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}${CRLF}`,
  },
  {
    name: "oversize_header_line",
    expect: "reject",
    bytes: (m) => `GET ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}X-Big: ${"a".repeat(70_000)}${CRLF}${CRLF}`,
  },
  {
    name: "too_many_headers",
    expect: "reject",
    bytes: (m) => `GET ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}${Array.from({ length: 500 }, (_, i) => `X-H${i}: v${CRLF}`).join("")}${CRLF}`,
  },
  {
    name: "nul_in_header_value",
    expect: "reject",
    bytes: (m) => `GET ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}X-A: a\x00b${CRLF}${CRLF}`,
  },
  {
    name: "bare_cr_in_header_value",
    expect: "reject",
    bytes: (m) => `GET ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}X-A: a\rX-Injected: b${CRLF}${CRLF}`,
  },
  {
    name: "control_byte_in_header_name",
    expect: "reject",
    bytes: (m) => `GET ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}X\x01A: b${CRLF}${CRLF}`,
  },
  {
    name: "obs_fold",
    expect: "rejectOrNormalize",
    bytes: (m) => `GET ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}X-Folded: a${CRLF} b${CRLF}Connection: close${CRLF}${CRLF}`,
  },
  {
    name: "http09",
    expect: "reject",
    // To a server without HTTP/0.9 this line may be the start of a request whose headers are
    // still to come: it may wait for them up to its header timeout (the cut bound) before closing.
    long: true,
    bytes: (m) => `GET ${m.path}${CRLF}`,
  },
  {
    name: "http09_absolute_form",
    expect: "reject",
    bytes: (m) => `GET http://${m.host}${m.path}${CRLF}${CRLF}`,
  },
  {
    name: "unknown_http_version",
    expect: "reject",
    bytes: (m) => `GET ${m.path} HTTP/1.7${CRLF}Host: ${m.host}${CRLF}${CRLF}`,
  },
  {
    name: "chunk_size_overflow",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}ffffffffffffffffff1${CRLF}a${CRLF}0${CRLF}${CRLF}`,
  },
  {
    name: "chunk_size_not_hex",
    expect: "reject",
    bytes: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}0x5${CRLF}hello${CRLF}0${CRLF}${CRLF}`,
  },
  {
    name: "bad_method_bytes",
    expect: "reject",
    bytes: (m) => `G\x01T ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}${CRLF}`,
  },
  {
    name: "space_in_target",
    expect: "reject",
    bytes: (m) => `GET ${m.path} x HTTP/1.1${CRLF}Host: ${m.host}${CRLF}${CRLF}`,
  },
  {
    name: "slowloris_header",
    expect: "cut",
    // one header line every 500 ms, never the blank line
    first: (m) => `GET ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}`,
    drip: (i) => `X-Drip-${i}: x${CRLF}`,
  },
  {
    name: "slowloris_body",
    expect: "cut",
    // a 1000-byte body, one byte every 500 ms
    first: (m) => `POST ${m.path} HTTP/1.1${CRLF}Host: ${m.host}${CRLF}Content-Length: 1000${CRLF}${CRLF}`,
    drip: () => "x",
  },
];
