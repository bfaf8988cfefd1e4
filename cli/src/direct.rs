//! Writing large result files past the page cache.
//!
//! `takt plan --output FILE` writes up to gigabytes (1.8 GB for a 100k-item
//! plant with full pegging). Through the page cache the kernel first copies
//! every byte into fresh cache pages; on this project's virtual machines
//! memory touched for the first time is slow, so a 1.8 GB buffered write took
//! 3.3 s where the same bytes written with `O_DIRECT` took 0.6 s (`dd`, same
//! machine). [`DirectFile`] writes whole aligned blocks with `O_DIRECT` and
//! the last partial block through the page cache; where the file system
//! refuses `O_DIRECT` it is an ordinary buffered file.

use std::alloc::{Layout, alloc, dealloc};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Block alignment `O_DIRECT` asks of buffer address, length and file offset
/// (4096 covers devices with 512- and 4096-byte blocks).
const ALIGN: usize = 4096;

/// Bytes gathered before each direct write.
const BUFFER: usize = 4 << 20;

/// A file created for writing, written past the page cache where it can be.
pub struct DirectFile {
    file: File,
    buf: AlignedBuf,
    /// Whether `O_DIRECT` is still on: it is turned off for the last
    /// partial block and wherever the file system refuses a direct write.
    direct: bool,
}

impl DirectFile {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> io::Result<DirectFile> {
        // Only a regular file (or a new one) is opened with O_DIRECT. Some
        // kernels refuse the flag for a named pipe only after the open has met
        // the reader, who then sees the end of the stream before a word is
        // written (and the second open finds no reader).
        #[cfg(target_os = "linux")]
        if std::fs::metadata(path).map_or_else(|e| e.kind() == io::ErrorKind::NotFound, |m| m.is_file()) {
            use std::os::unix::fs::OpenOptionsExt;
            let direct =
                OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(path);
            if let Ok(file) = direct {
                let mut out = DirectFile { file, buf: AlignedBuf::new(), direct: true };
                // Only regular files: a pipe opened with O_DIRECT (say
                // `--output /dev/stdout | less`) would turn into packet
                // mode, where a reader with a smaller buffer loses bytes.
                if !out.file.metadata()?.is_file() {
                    out.stop_direct()?;
                }
                return Ok(out);
            }
        }
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
        Ok(DirectFile { file, buf: AlignedBuf::new(), direct: false })
    }

    /// Writes the whole aligned blocks of the buffer and keeps the rest.
    fn write_blocks(&mut self) -> io::Result<()> {
        let whole = self.buf.len / ALIGN * ALIGN;
        if whole == 0 {
            return Ok(());
        }
        if self.direct {
            match self.file.write_all(&self.buf.as_slice()[..whole]) {
                Ok(()) => {}
                // A file system may accept the flag and refuse the write;
                // nothing was written then, so the same bytes go buffered.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    self.stop_direct()?;
                    self.file.write_all(&self.buf.as_slice()[..whole])?;
                }
                Err(e) => return Err(e),
            }
        } else {
            self.file.write_all(&self.buf.as_slice()[..whole])?;
        }
        self.buf.consume(whole);
        Ok(())
    }

    /// Turns `O_DIRECT` off for the rest of the file.
    fn stop_direct(&mut self) -> io::Result<()> {
        if !self.direct {
            return Ok(());
        }
        self.direct = false;
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let fd = self.file.as_raw_fd();
            // SAFETY: fcntl on a descriptor this struct owns; no memory is passed.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            // SAFETY: as above.
            if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

impl Write for DirectFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !self.direct && self.buf.len == 0 && data.len() >= BUFFER {
            return self.file.write(data);
        }
        let n = self.buf.push(data);
        if self.buf.len == BUFFER {
            self.write_blocks()?;
        }
        Ok(n)
    }

    /// Writes everything: the whole blocks directly, then (with `O_DIRECT`
    /// off from here on) the partial block through the page cache.
    fn flush(&mut self) -> io::Result<()> {
        self.write_blocks()?;
        if self.buf.len > 0 {
            self.stop_direct()?;
            self.file.write_all(self.buf.as_slice())?;
            self.buf.len = 0;
        }
        self.file.flush()
    }
}

impl Drop for DirectFile {
    fn drop(&mut self) {
        // As BufWriter does: a dropped writer writes what it holds, errors ignored.
        let _ = self.flush();
    }
}

/// A fixed buffer of [`BUFFER`] bytes aligned to [`ALIGN`].
struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer is owned memory with no thread affinity, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    fn layout() -> Layout {
        Layout::from_size_align(BUFFER, ALIGN).expect("a valid layout")
    }

    fn new() -> AlignedBuf {
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc(Self::layout()) };
        let ptr = std::ptr::NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(Self::layout()));
        AlignedBuf { ptr, len: 0 }
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: the first `len` bytes were written by `push`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Copies as much of `data` as fits; returns how much.
    fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(BUFFER - self.len);
        // SAFETY: `len + n <= BUFFER`, and `data` cannot overlap memory we own exclusively.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), n) };
        self.len += n;
        n
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    fn consume(&mut self, n: usize) {
        let rest = self.len - n;
        // SAFETY: both ranges lie within the first `len` bytes; `copy` allows overlap.
        unsafe { std::ptr::copy(self.ptr.as_ptr().add(n), self.ptr.as_ptr(), rest) };
        self.len = rest;
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { dealloc(self.ptr.as_ptr(), Self::layout()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around the block and buffer bounds, written in uneven pieces,
    /// read back byte for byte.
    #[test]
    fn writes_every_byte_in_order() {
        let dir = std::env::temp_dir().join(format!("takt-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for size in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, BUFFER - 1, BUFFER, BUFFER + 7, 3 * BUFFER + ALIGN + 5] {
            let data: Vec<u8> = (0..size).map(|k| (k * 31 % 251) as u8).collect();
            let path = dir.join(format!("out-{size}"));
            let mut out = DirectFile::create(&path).unwrap();
            let mut k = 0;
            let mut piece = 1;
            while k < data.len() {
                let end = (k + piece).min(data.len());
                out.write_all(&data[k..end]).unwrap();
                k = end;
                piece = piece * 3 % 1_000_003 + 1;
            }
            out.flush().unwrap();
            drop(out);
            assert_eq!(std::fs::read(&path).unwrap(), data, "size {size}");
            // Writing again truncates what was there.
            let mut out = DirectFile::create(&path).unwrap();
            out.write_all(b"x").unwrap();
            drop(out);
            assert_eq!(std::fs::read(&path).unwrap(), b"x");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A named pipe gets every byte, read in small pieces. (Some kernels of
    /// this project's machines refuse O_DIRECT for a FIFO after the open has
    /// met the reader, which then reads an empty stream: without the guard
    /// in `create` this failed 2 of 5 runs there. Others open it without
    /// packet mode, and it passes either way.)
    #[test]
    fn a_pipe_is_written_as_a_stream() {
        let dir = std::env::temp_dir().join(format!("takt-direct-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let data: Vec<u8> = (0..3 * BUFFER + 123).map(|k| (k * 7 % 253) as u8).collect();
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut pipe = File::open(&fifo).unwrap();
                let mut got = Vec::new();
                let mut small = [0u8; 100];
                loop {
                    let n = io::Read::read(&mut pipe, &mut small).unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&small[..n]);
                }
                got
            })
        };
        let mut out = DirectFile::create(&fifo).unwrap();
        out.write_all(&data).unwrap();
        out.flush().unwrap();
        drop(out);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
