//! rustbox's memory allocator (the binary's `#[global_allocator]`): blocks in
//! power-of-two size classes from 16 B to 64 KiB, each class with a free list,
//! carved from memory that is never given back while the process lives; larger
//! or over-aligned requests go to the C library's allocator.
//!
//! Why: rustbox is a short-lived process that allocates a few hundred small
//! buffers (paths, file contents of /proc and cgroup files, the evidence), and
//! musl's allocator maps and unmaps memory as its groups fill and empty: 40 mmap
//! and 25 munmap calls in one `--run`, 190 pairs in a `--cleanup` (which reads
//! the status of every process), each with its page faults. Measured on the
//! development VM, a `--run` took 0.5 ms less with memory that is never unmapped.
//! The supervisor's peak use stays small (the free lists keep at most what was
//! live at once in each class), and a long run's watch loop reuses its blocks.
//!
//! The state is behind a spin lock: rustbox runs no second thread and no
//! signal handler that allocates, so the lock is never contended there; it only
//! makes the allocator sound for the test binaries, which call it from threads.
//! A fork copies the state with the lock free (rustbox forks from one thread).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Smallest class: 16 bytes (a free block holds the next pointer).
const MIN_SHIFT: u32 = 4;
/// Classes 16 B, 32 B, ... 64 KiB.
const CLASSES: usize = 13;
const MAX_SMALL: usize = 1 << (MIN_SHIFT as usize + CLASSES - 1);
/// Carving alignment cap: a class block is aligned to its size up to a page.
const PAGE: usize = 4096;
/// Memory is taken from the kernel in chunks of this size.
const CHUNK: usize = 1 << 20;

struct FreeBlock {
    next: *mut FreeBlock,
}

struct State {
    free: [*mut FreeBlock; CLASSES],
    /// The unused part of the current chunk.
    bump: usize,
    end: usize,
}

/// The allocator. All instances share one state.
pub struct ClassAlloc;

struct Shared {
    lock: AtomicBool,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only touched with `lock` held (`with_state`).
unsafe impl Sync for Shared {}

static SHARED: Shared = Shared {
    lock: AtomicBool::new(false),
    state: UnsafeCell::new(State {
        free: [std::ptr::null_mut(); CLASSES],
        bump: 0,
        end: 0,
    }),
};

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    while SHARED
        .lock
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    // SAFETY: the lock is held, so this is the only reference to the state.
    let r = f(unsafe { &mut *SHARED.state.get() });
    SHARED.lock.store(false, Ordering::Release);
    r
}

/// The class of a request, or None for the C library's allocator.
fn class_of(layout: &Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    if size > MAX_SMALL || layout.align() > PAGE {
        return None;
    }
    let shift = size.next_power_of_two().trailing_zeros();
    Some((shift - MIN_SHIFT) as usize)
}

fn class_size(class: usize) -> usize {
    1 << (MIN_SHIFT as usize + class)
}

impl State {
    /// A fresh block of `class` from the current chunk, or from a new one.
    fn carve(&mut self, class: usize) -> *mut u8 {
        let size = class_size(class);
        let align = size.min(PAGE);
        let mut start = (self.bump + align - 1) & !(align - 1);
        if self.end == 0 || start + size > self.end {
            // SAFETY: an anonymous private mapping of CHUNK bytes, owned by the
            // allocator for the life of the process; no address is fixed.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    CHUNK,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return std::ptr::null_mut();
            }
            // The rest of the old chunk (under 64 KiB) is left unused. In this
            // order, each store kept in place: a process that shares this
            // memory and dies between them (`reclaim_after_shared_child`)
            // leaves `end` 0, so the next carve maps a chunk of its own
            // instead of carving between two chunks.
            self.end = 0;
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
            self.bump = p as usize;
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
            self.end = p as usize + CHUNK;
            start = self.bump;
        }
        self.bump = start + size;
        start as *mut u8
    }
}

// SAFETY: every block handed out is `class_size` bytes (at least the layout's
// size) at an address aligned to min(class size, a page) (at least the layout's
// alignment, which `class_of` caps at a page), inside a chunk that is never
// unmapped; a block is handed out again only after `dealloc` returned it.
// Requests `class_of` refuses go to `System`, and so do their deallocations: the
// same layout always picks the same side.
unsafe impl GlobalAlloc for ClassAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(&layout) else {
            // SAFETY: forwarded with the caller's layout, as GlobalAlloc says.
            return unsafe { System.alloc(layout) };
        };
        with_state(|s| {
            let head = s.free[class];
            if head.is_null() {
                return s.carve(class);
            }
            // SAFETY: a block on the list was returned by `dealloc`, which wrote
            // a valid `next` into it; nobody else holds it.
            s.free[class] = unsafe { (*head).next };
            head.cast()
        })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(class) = class_of(&layout) else {
            // SAFETY: `alloc` gave this layout to System, so it goes back there.
            return unsafe { System.dealloc(ptr, layout) };
        };
        with_state(|s| {
            let block = ptr.cast::<FreeBlock>();
            // SAFETY: the caller gives back a block of this class that it no
            // longer uses; it is at least 16 bytes and 16-byte aligned.
            unsafe {
                block.write(FreeBlock {
                    next: s.free[class],
                })
            };
            s.free[class] = block;
        })
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with this alignment is a valid
        // layout (GlobalAlloc's contract for realloc).
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let old_class = class_of(&layout);
        if old_class.is_some() && old_class == class_of(&new) {
            return ptr; // The block already holds `new_size` bytes.
        }
        // SAFETY: a valid layout; the copy covers the smaller of the two sizes,
        // both blocks being at least that large, and they do not overlap.
        unsafe {
            let p = self.alloc(new);
            if !p.is_null() {
                std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            p
        }
    }
}

/// After a child that shared this process's memory (`sys::vfork`) has left it
/// (exec'd or exited): a child killed while it held the allocator's lock (a
/// SIGKILL in the middle of an allocation) left it held, and nobody else can
/// hold it now. The state is as it left it, and usable: a list's update is
/// one store, or two that at worst leave a block off its list (lost, never
/// handed out twice), and a new chunk is recorded so that a stop between its
/// stores only loses it (`State::carve`).
///
/// # Safety
/// Only in a single-threaded process whose sharing child has exec'd or exited,
/// outside any allocation.
pub unsafe fn reclaim_after_shared_child() {
    SHARED.lock.store(false, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_size_and_alignment() {
        let l = |s, a| Layout::from_size_align(s, a).unwrap();
        assert_eq!(class_of(&l(1, 1)), Some(0));
        assert_eq!(class_of(&l(16, 8)), Some(0));
        assert_eq!(class_of(&l(17, 1)), Some(1));
        assert_eq!(class_of(&l(8, 64)), Some(2));
        assert_eq!(class_of(&l(65536, 8)), Some(CLASSES - 1));
        assert_eq!(class_of(&l(65537, 8)), None);
        assert_eq!(class_of(&l(64, 8192)), None);
    }

    #[test]
    fn blocks_are_aligned_distinct_and_reused() {
        let a = ClassAlloc;
        let mut live = Vec::new();
        for (size, align) in [
            (1, 1),
            (24, 8),
            (100, 16),
            (4096, 4096),
            (40000, 8),
            (200000, 8),
        ] {
            let layout = Layout::from_size_align(size, align).unwrap();
            for _ in 0..50 {
                // SAFETY: a valid non-zero layout; the block is filled within its size.
                let p = unsafe { a.alloc(layout) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "{size}/{align}");
                // SAFETY: the block holds `size` bytes.
                unsafe { std::ptr::write_bytes(p, 0xa5, size) };
                live.push((p, layout));
            }
        }
        let mut addrs: Vec<usize> = live.iter().map(|(p, _)| *p as usize).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), live.len(), "a block was handed out twice");
        let (p, layout) = live[60];
        // SAFETY: returned once, then asked for again with the same layout.
        unsafe {
            a.dealloc(p, layout);
            let again = a.alloc(layout);
            // Other test threads share the allocator: reuse is likely, not certain,
            // but the block must be usable either way.
            std::ptr::write_bytes(again, 0x5a, layout.size());
            live[60] = (again, layout);
        }
        for (p, layout) in live {
            // SAFETY: each live block given back once.
            unsafe { a.dealloc(p, layout) };
        }
    }

    #[test]
    fn realloc_keeps_the_contents_across_classes() {
        let a = ClassAlloc;
        let layout = Layout::from_size_align(10, 1).unwrap();
        // SAFETY: valid layouts; each pointer is used within the size it has.
        unsafe {
            let mut p = a.alloc(layout);
            for i in 0..10 {
                *p.add(i) = i as u8;
            }
            let mut size = 10;
            for new_size in [12, 40, 5000, 70000, 300, 11] {
                p = a.realloc(p, Layout::from_size_align(size, 1).unwrap(), new_size);
                assert!(!p.is_null());
                for i in 0..10.min(new_size) {
                    assert_eq!(*p.add(i), i as u8, "byte {i} after realloc to {new_size}");
                }
                size = new_size;
            }
            a.dealloc(p, Layout::from_size_align(size, 1).unwrap());
        }
    }
}
