//! The CRI container log format the kubelet reads (`<RFC3339Nano> <stream> <tag> <log>`,
//! tag `F` for a full line, `P` for a partial one) and the reader that applies every
//! `pods/log` option as upstream's `ReadLogs` does: `tailLines` counts lines of the file,
//! `sinceSeconds`/`sinceTime` skip older lines, `timestamps` prefixes each line with its
//! time in fixed nine-digit RFC 3339 form, `limitBytes` cuts the output, and `follow`
//! keeps reading until the container has exited and the file is drained.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use corral_core::Timestamp;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Lines longer than this are split into partial (`P`) records, as containerd does.
pub const MAX_LINE: usize = 16 * 1024;

/// How often a follower looks for new data.
const FOLLOW_POLL: Duration = Duration::from_millis(25);

/// `2006-01-02T15:04:05.000000000Z` (Go's `RFC3339NanoFixed`).
pub fn format_timestamp(t: Timestamp) -> String {
    let seconds = t.as_second();
    let nanos = t.subsec_nanosecond().max(0);
    let whole = Timestamp::from_second(seconds).unwrap_or(t);
    let text = whole.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    format!("{text}.{nanos:09}Z")
}

/// Writes one CRI record for `line` (without its newline) on `stream`.
pub fn write_record(
    out: &mut impl Write,
    now: Timestamp,
    stream: &str,
    line: &[u8],
    partial: bool,
) -> io::Result<()> {
    let mut record = Vec::with_capacity(line.len() + 48);
    record.extend_from_slice(format_timestamp(now).as_bytes());
    record.push(b' ');
    record.extend_from_slice(stream.as_bytes());
    record.extend_from_slice(if partial { b" P " } else { b" F " });
    record.extend_from_slice(line);
    record.push(b'\n');
    out.write_all(&record)
}

/// One parsed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub timestamp: Timestamp,
    pub stream: String,
    pub partial: bool,
    /// The content, with its newline for full lines.
    pub content: Vec<u8>,
}

/// Parses one record (`line` without its newline).
pub fn parse_record(line: &[u8]) -> Option<Record> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?;
    let stream = std::str::from_utf8(parts.next()?).ok()?;
    if stream != "stdout" && stream != "stderr" {
        return None;
    }
    let tag = parts.next()?;
    let partial = tag.split(|b| *b == b':').next() == Some(b"P");
    let mut content = parts.next().unwrap_or_default().to_vec();
    if !partial {
        content.push(b'\n');
    }
    Some(Record {
        timestamp: time.parse().ok()?,
        stream: stream.to_string(),
        partial,
        content,
    })
}

/// The reader's options (from `pods/log`).
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    pub follow: bool,
    pub timestamps: bool,
    /// `None`: all lines.
    pub tail_lines: Option<u64>,
    pub since: Option<Timestamp>,
    pub limit_bytes: Option<u64>,
}

impl ReadOptions {
    /// Upstream's `NewLogOptions`: the later of `now - sinceSeconds` and `sinceTime`.
    pub fn from_api(options: &corral_apiserver::service::LogOptions, now: Timestamp) -> Self {
        let since_seconds = options
            .since_seconds
            .filter(|s| *s > 0)
            .map(|s| corral_core::clock::sub(now, Duration::from_secs(s as u64)));
        let since_time = options
            .since_time
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok());
        let since = match (since_seconds, since_time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        ReadOptions {
            follow: options.follow,
            timestamps: options.timestamps,
            tail_lines: options.tail_lines.filter(|n| *n >= 0).map(|n| n as u64),
            since,
            limit_bytes: options.limit_bytes.filter(|n| *n > 0).map(|n| n as u64),
        }
    }
}

/// The byte offset where the last `lines` lines of `data` start.
pub fn tail_start(data: &[u8], lines: u64) -> usize {
    if lines == 0 {
        return data.len();
    }
    let mut seen = 0u64;
    let end = if data.last() == Some(&b'\n') {
        data.len() - 1
    } else {
        data.len()
    };
    for index in (0..end).rev() {
        if data[index] == b'\n' {
            seen += 1;
            if seen == lines {
                return index + 1;
            }
        }
    }
    0
}

/// The path of a finished container's marker next to its log.
pub fn done_marker(log: &Path) -> PathBuf {
    log.with_extension("done")
}

/// Renders complete records of `chunk` into output bytes; returns how much of `chunk` was
/// consumed (a trailing incomplete line stays for the next read).
fn render(
    chunk: &[u8],
    options: &ReadOptions,
    out: &mut Vec<u8>,
    lines_left: &mut Option<u64>,
) -> usize {
    let mut consumed = 0;
    while let Some(end) = chunk[consumed..].iter().position(|b| *b == b'\n') {
        let line = &chunk[consumed..consumed + end];
        consumed += end + 1;
        if lines_left == &Some(0) {
            break;
        }
        let Some(record) = parse_record(line) else {
            continue;
        };
        if options.since.is_some_and(|since| record.timestamp < since) {
            continue;
        }
        if options.timestamps {
            out.extend_from_slice(format_timestamp(record.timestamp).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&record.content);
        if let Some(left) = lines_left.as_mut() {
            *left -= 1;
        }
    }
    consumed
}

/// Reads a container log with `options`, sending output chunks to `sink`. Returns when
/// done (or the sink closed); a follower ends once the container's `.done` marker exists
/// and the file is drained.
pub async fn read_log(
    path: PathBuf,
    options: ReadOptions,
    sink: tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>,
) {
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            let _ = sink.send(Err(e)).await;
            return;
        }
    };
    if let Some(lines) = options.tail_lines {
        let mut data = Vec::new();
        if let Err(e) = file.read_to_end(&mut data).await {
            let _ = sink.send(Err(e)).await;
            return;
        }
        let start = tail_start(&data, lines) as u64;
        if let Err(e) = file.seek(io::SeekFrom::Start(start)).await {
            let _ = sink.send(Err(e)).await;
            return;
        }
    }
    let limited_lines = if options.follow {
        None
    } else {
        options.tail_lines
    };
    let mut lines_left = limited_lines;
    let mut remaining = options.limit_bytes;
    let mut pending: Vec<u8> = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let marker = done_marker(&path);
    loop {
        // Check for the end marker before reading, so data written before the container
        // exited is always drained by the read that follows.
        let finished = !options.follow || marker.exists() || !path.exists();
        let n = match file.read(&mut buffer).await {
            Ok(n) => n,
            Err(e) => {
                let _ = sink.send(Err(e)).await;
                return;
            }
        };
        if n > 0 {
            pending.extend_from_slice(&buffer[..n]);
            let mut out = Vec::new();
            let consumed = render(&pending, &options, &mut out, &mut lines_left);
            pending.drain(..consumed);
            if let Some(left) = remaining.as_mut() {
                if out.len() as u64 >= *left {
                    out.truncate(*left as usize);
                    *left = 0;
                } else {
                    *left -= out.len() as u64;
                }
            }
            if !out.is_empty() && sink.send(Ok(Bytes::from(out))).await.is_err() {
                return;
            }
            if remaining == Some(0) || lines_left == Some(0) {
                return;
            }
            continue;
        }
        if finished {
            // A last line without newline (the writer always ends records with one, so
            // this only happens for foreign files).
            if !pending.is_empty() {
                pending.push(b'\n');
                let mut out = Vec::new();
                render(&pending, &options, &mut out, &mut lines_left);
                if let Some(left) = remaining {
                    out.truncate(left as usize);
                }
                if !out.is_empty() {
                    let _ = sink.send(Ok(Bytes::from(out))).await;
                }
            }
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = sink.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_fixed_nanoseconds() {
        let t: Timestamp = "2026-01-02T03:04:05.5Z".parse().unwrap();
        assert_eq!(format_timestamp(t), "2026-01-02T03:04:05.500000000Z");
        let mut out = Vec::new();
        write_record(&mut out, t, "stdout", b"hello", false).unwrap();
        assert_eq!(out, b"2026-01-02T03:04:05.500000000Z stdout F hello\n");
        let record = parse_record(&out[..out.len() - 1]).unwrap();
        assert_eq!(record.content, b"hello\n");
        assert_eq!(record.timestamp, t);
        let partial = parse_record(b"2026-01-02T03:04:05Z stderr P abc").unwrap();
        assert!(partial.partial);
        assert_eq!(partial.content, b"abc");
    }

    #[test]
    fn tail_finds_the_start_of_the_last_lines() {
        let data = b"a\nb\nc\n";
        assert_eq!(tail_start(data, 1), 4);
        assert_eq!(tail_start(data, 2), 2);
        assert_eq!(tail_start(data, 5), 0);
        assert_eq!(tail_start(data, 0), 6);
    }
}
