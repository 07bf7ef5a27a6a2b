//! `WriteBuffer`: contiguous writes to one file, held in wasm memory so that
//! they reach the file in one `writeSync`: a WAL commit's frames (instead of
//! two calls per frame, its 24-byte header then its page), or a run of
//! adjacent pages a checkpoint copies into the database.
//!
//! It holds one contiguous run of bytes. SQLite writes a commit's frames in
//! order and its commit frame last, the only frame whose header has a
//! nonzero "database size after commit" (bytes 4..8); the write after such a
//! header (the commit frame's page) completes the commit, and the buffer
//! says to flush then, so that a commit is in the file (the OS's page cache)
//! when SQLite reports it, with or without an fsync after it. The one other
//! write of a commit frame's header: when a transaction spilled frames before
//! its commit and then rewrote one of their pages in place, SQLite fixes the
//! checksums of the frames from there on as its commit's last step, reading
//! each frame back and writing its header again; the header of the commit
//! frame, written right after reading that frame, completes the commit
//! itself. A database file never sees a 24-byte write (SQLite writes it in
//! whole pages).

/// A WAL frame header's size; SQLite writes it alone, before its page.
const FRAME_HEADER_BYTES: usize = 24;

/// Bytes held at most: a transaction or checkpoint bigger than this is
/// written in runs of about this size, so memory does not grow with it.
const BUFFER_LIMIT: usize = 1 << 20;

/// What the file has to do after `WriteBuffer::take`.
#[derive(Debug, PartialEq, Eq)]
enum AfterWrite {
    /// Keep the bytes for now.
    Hold,
    /// A commit is complete: write the buffer to the file now.
    Flush,
}

#[derive(Debug, Default)]
pub struct WriteBuffer {
    /// The file offset of `bytes[0]`.
    start: u64,
    bytes: Vec<u8>,
    /// The last write was a commit frame's header, its page still to come.
    commit_header_written: bool,
    /// Where the last read began, if nothing was written after it.
    last_read: Option<u64>,
}

impl WriteBuffer {
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The file offset just past the buffered bytes.
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// The size of a file `on_disk` bytes long once the buffer is written.
    pub fn size_over(&self, on_disk: u64) -> u64 {
        match self.is_empty() {
            true => on_disk,
            false => on_disk.max(self.end()),
        }
    }

    /// The buffered bytes and where they go.
    fn contents(&self) -> (&[u8], u64) {
        (&self.bytes, self.start)
    }

    /// Whether `len` bytes at `offset` share a byte with the buffer.
    fn overlaps(&self, offset: u64, len: usize) -> bool {
        !self.is_empty() && offset < self.end() && offset + len as u64 > self.start
    }

    /// Whether `take` can hold `len` bytes at `offset`: they continue the
    /// buffer (within its limit) or lie inside it (SQLite rewriting a frame
    /// of the same transaction). An empty buffer takes any write.
    fn fits(&self, offset: u64, len: usize) -> bool {
        let inside = offset >= self.start && offset + len as u64 <= self.end();
        let continues = offset == self.end() && self.bytes.len() + len <= BUFFER_LIMIT;
        self.is_empty() || inside || continues
    }

    /// Holds `buf`, to be written at `offset`; the caller has checked `fits`.
    fn take(&mut self, buf: &[u8], offset: u64) -> AfterWrite {
        if self.is_empty() {
            self.start = offset;
        }
        let at = (offset - self.start) as usize;
        let overlap = buf.len().min(self.bytes.len() - at);
        self.bytes[at..at + overlap].copy_from_slice(&buf[..overlap]);
        self.bytes.extend_from_slice(&buf[overlap..]);
        let commit_header = buf.len() == FRAME_HEADER_BYTES && buf[4..8] != [0; 4];
        let rewrites_read_frame = self.last_read.take() == Some(offset);
        let completes_commit = self.commit_header_written || (commit_header && rewrites_read_frame);
        self.commit_header_written = commit_header && !rewrites_read_frame;
        match completes_commit {
            true => AfterWrite::Flush,
            false => AfterWrite::Hold,
        }
    }

    /// Notes a read at `offset` (see the top: a frame read back).
    fn note_read(&mut self, offset: u64) {
        self.last_read = Some(offset);
    }

    /// Empties the buffer, once its bytes are written (or failed to be:
    /// SQLite then fails the transaction and writes its frames again).
    fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Holds a write of `buf` at `offset`: first writes the buffer out
    /// through `write_out` if `buf` does not join it, then writes it out
    /// again at once if `buf` completes a commit.
    pub fn write<E>(
        &mut self,
        buf: &[u8],
        offset: u64,
        mut write_out: impl FnMut(&[u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.fits(offset, buf.len()) {
            self.write_out(&mut write_out)?;
        }
        match self.take(buf, offset) {
            AfterWrite::Hold => Ok(()),
            AfterWrite::Flush => self.write_out(write_out),
        }
    }

    /// Before a read of `len` bytes at `offset`: notes it, and writes the
    /// buffer out first through `write_out` if the read overlaps it.
    pub fn before_read<E>(
        &mut self,
        offset: u64,
        len: usize,
        write_out: impl FnMut(&[u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        self.note_read(offset);
        match self.overlaps(offset, len) {
            true => self.write_out(write_out),
            false => Ok(()),
        }
    }

    /// Writes the held bytes out through `write_out(bytes, offset)` and
    /// empties the buffer, written or not.
    pub fn write_out<E>(&mut self, mut write_out: impl FnMut(&[u8], u64) -> Result<(), E>) -> Result<(), E> {
        if self.is_empty() {
            return Ok(());
        }
        let (bytes, start) = self.contents();
        let written = write_out(bytes, start);
        self.clear();
        written
    }
}

/// A WAL frame's header saying the database's size after its commit (0:
/// not a commit frame), for the tests of the files that buffer.
#[cfg(test)]
pub fn frame_header(commit_size: u32) -> [u8; FRAME_HEADER_BYTES] {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    header[4..8].copy_from_slice(&commit_size.to_be_bytes());
    header
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn frames_are_held_until_the_commit_frames_page() {
        let mut buffer = WriteBuffer::default();
        let page = [9u8; 512];
        assert_eq!(buffer.take(&frame_header(0), 32), AfterWrite::Hold);
        assert_eq!(buffer.take(&page, 56), AfterWrite::Hold);
        assert_eq!(buffer.take(&frame_header(3), 568), AfterWrite::Hold);
        assert_eq!(buffer.take(&page, 592), AfterWrite::Flush);
        let (bytes, start) = buffer.contents();
        assert_eq!((bytes.len(), start), (2 * (24 + 512), 32));
        buffer.clear();
        assert!(buffer.is_empty());
    }

    #[wasm_bindgen_test]
    fn a_commit_frames_header_rewritten_after_reading_the_frame_completes_the_commit() {
        // Each write lies apart from the one before, which the file writes
        // out first (`clear` here).
        let mut buffer = WriteBuffer::default();
        buffer.note_read(4152);
        assert_eq!(buffer.take(&frame_header(0), 4152), AfterWrite::Hold, "not the commit frame");
        buffer.clear();
        buffer.note_read(8272);
        assert_eq!(buffer.take(&frame_header(5), 8272), AfterWrite::Flush, "the commit frame, read back");
        buffer.clear();
        buffer.note_read(8272);
        buffer.take(&[0u8; 8], 100);
        buffer.clear();
        assert_eq!(
            buffer.take(&frame_header(5), 8272),
            AfterWrite::Hold,
            "a write came between: its page follows"
        );
    }

    #[wasm_bindgen_test]
    fn a_write_inside_the_buffer_replaces_its_bytes() {
        let mut buffer = WriteBuffer::default();
        buffer.take(&[1u8; 100], 1000);
        assert!(buffer.fits(1010, 20));
        buffer.take(&[2u8; 20], 1010);
        let (bytes, _) = buffer.contents();
        assert_eq!((bytes.len(), bytes[9], bytes[10], bytes[29], bytes[30]), (100, 1, 2, 2, 1));
    }

    #[wasm_bindgen_test]
    fn only_contiguous_writes_within_the_limit_fit() {
        let mut buffer = WriteBuffer::default();
        assert!(buffer.fits(4096, BUFFER_LIMIT + 1), "an empty buffer takes anything");
        buffer.take(&[0u8; 100], 4096);
        assert!(buffer.fits(4196, 10));
        assert!(!buffer.fits(4197, 10), "a gap");
        assert!(!buffer.fits(4000, 10), "before the start");
        assert!(!buffer.fits(4190, 10), "straddles the end");
        assert!(!buffer.fits(4196, BUFFER_LIMIT), "past the limit");
        assert!(buffer.overlaps(4195, 1) && buffer.overlaps(4000, 97));
        assert!(!buffer.overlaps(4196, 10) && !buffer.overlaps(4000, 96));
    }
}
