//! The module's allocator: dlmalloc, as Rust's own on wasm32, over a memory
//! that grows in large steps. Rust's own asks for as little as it needs,
//! about 64 KiB at a time, and every `memory.grow` makes V8 count the whole
//! memory again as new external memory until a full GC frees the old
//! buffer object: a store in memory growing to 100 MB did a full GC every
//! few batches, a third of an `mset`'s time. Grown by half of what it has
//! at a time, the memory grows a dozen times on the way to 100 MB. Pages
//! grown and not yet used are never touched, so they cost the process
//! address space, not memory.

use std::alloc::{GlobalAlloc, Layout};
use std::arch::wasm32;
use std::cell::UnsafeCell;

const PAGE_BYTES: usize = 64 * 1024;
/// The least one step grows: what the module starts with is smaller.
const LEAST_STEP_BYTES: usize = 4 << 20;

/// Where dlmalloc gets its memory: `memory.grow`, in the steps of `region`.
struct GrowsInSteps;

/// The region (its address and length) to hand dlmalloc when it asks for
/// `size` bytes of a memory of `memory_bytes`: a step of half the memory, at
/// least `LEAST_STEP_BYTES` and at least `size`; if `grow` (pages, giving
/// the first new page) cannot give that much, `size` alone; else none.
fn region(size: usize, memory_bytes: usize, grow: impl Fn(usize) -> Option<usize>) -> Option<(usize, usize)> {
    let grown = |bytes: usize| {
        let pages = bytes.div_ceil(PAGE_BYTES);
        grow(pages).map(|first_page| (first_page * PAGE_BYTES, pages * PAGE_BYTES))
    };
    grown(size.max(memory_bytes / 2).max(LEAST_STEP_BYTES)).or_else(|| grown(size))
}

// SAFETY: each region handed out is fresh memory past the end of the
// memory, given to no one else; nothing is ever given back.
unsafe impl dlmalloc::Allocator for GrowsInSteps {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let memory_bytes = wasm32::memory_size(0) * PAGE_BYTES;
        let grow = |pages| Some(wasm32::memory_grow(0, pages)).filter(|&previous| previous != usize::MAX);
        match region(size, memory_bytes, grow) {
            // A region of the 4 GiB address space's last bytes would end
            // at 0, which no pointer may wrap to: dlmalloc is told of less.
            Some((base, bytes)) if base.wrapping_add(bytes) == 0 => (base as *mut u8, bytes - 16, 0),
            Some((base, bytes)) => (base as *mut u8, bytes, 0),
            None => (std::ptr::null_mut(), 0, 0),
        }
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        std::ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE_BYTES
    }
}

struct Allocator(UnsafeCell<dlmalloc::Dlmalloc<GrowsInSteps>>);

// SAFETY: the module is built without atomics: one thread, and an
// allocation never reenters the allocator.
unsafe impl Sync for Allocator {}

// SAFETY: dlmalloc's own contracts, which are GlobalAlloc's.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).malloc(layout.size(), layout.align()) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).calloc(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { (*self.0.get()).free(ptr, layout.size(), layout.align()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Allocator =
    Allocator(UnsafeCell::new(dlmalloc::Dlmalloc::new_with_allocator(GrowsInSteps)));

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    const MIB: usize = 1 << 20;

    #[wasm_bindgen_test]
    fn a_step_is_half_the_memory_at_least_4_mib_and_at_least_the_request() {
        let grow = |_pages| Some(1000);
        let at = 1000 * PAGE_BYTES;
        assert_eq!(region(100, 64 * MIB, grow), Some((at, 32 * MIB)));
        assert_eq!(region(100, 2 * MIB, grow), Some((at, 4 * MIB)));
        assert_eq!(region(100 * MIB + 1, 64 * MIB, grow), Some((at, 100 * MIB + PAGE_BYTES)));
    }

    #[wasm_bindgen_test]
    fn without_room_for_a_step_the_memory_grows_by_the_request_or_not_at_all() {
        let one_page_left = |pages| (pages == 1).then_some(7);
        assert_eq!(region(100, 64 * MIB, one_page_left), Some((7 * PAGE_BYTES, PAGE_BYTES)));
        assert_eq!(region(100, 64 * MIB, |_pages| None), None);
    }

    #[wasm_bindgen_test]
    fn the_memory_grows_a_few_times_for_many_small_allocations() {
        let mut held = Vec::new();
        let mut size = wasm32::memory_size(0);
        let mut grows = 0;
        // 32 MiB in 64 KiB pieces: one grow per piece with Rust's own allocator.
        for piece in 0..512u32 {
            held.push(vec![piece as u8; PAGE_BYTES]);
            if wasm32::memory_size(0) != size {
                size = wasm32::memory_size(0);
                grows += 1;
            }
        }
        assert!((1..=6).contains(&grows), "{grows} grows");
        assert!(held.iter().enumerate().all(|(piece, bytes)| bytes.iter().all(|&byte| byte == piece as u8)));
        let zeroed = vec![0u64; PAGE_BYTES];
        assert!(zeroed.iter().all(|&word| word == 0), "zeroed memory reads as zeros");
    }
}
