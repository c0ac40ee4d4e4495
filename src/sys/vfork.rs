//! A child that runs in its parent's memory until its execve: clone(2) with
//! CLONE_VM | CLONE_VFORK, on a stack of its own, as posix_spawn starts a
//! program (musl's and glibc's alike).
//!
//! Why: a fork copies the parent's page tables, and every page either process
//! writes afterwards is copied once more on its first write. pid 1 forked the
//! payload that way, and the payload's chain then wrote to pages of the copy
//! all the way to its execve: measured here, the chain ran 0.1 ms faster and a
//! whole `--run` 0.16-0.19 ms faster (interleaved, 200 runs each) without the
//! copy.
//!
//! What sharing means, and why it is safe where rustbox uses it (pid 1 and the
//! payload, `supervisor::proxy`):
//!
//! - The parent does not run from the clone until the child's execve or exit
//!   (CLONE_VFORK): the child is alone in the memory, and the memory is the
//!   parent's again, as the child left it, when the parent goes on. After a
//!   successful execve the child has an address space of its own: nothing it
//!   runs then shares the parent's memory.
//! - The child runs only the code it is given, on the stack mapped here, never
//!   on a frame of the parent's. What that code changes in memory (an
//!   allocator's free lists, errno, Rust's and the C library's thread-locals,
//!   which are the parent's thread's: there is one thread pointer) the parent
//!   finds afterwards; it must be code after which the parent only does what
//!   it did after a fork.
//! - What is per task or per process is not shared by CLONE_VM: credentials,
//!   capabilities, seccomp filters, Landlock domains, no_new_privs, resource
//!   limits, the descriptor table (no CLONE_FILES), root, cwd and umask (no
//!   CLONE_FS), signal dispositions (no CLONE_SIGHAND). Whatever the child drops
//!   or sets there is its own.
//! - Dumpability is a property of the memory: a child of a parent that is not
//!   dumpable is not dumpable either until its execve, whatever uid it takes.
//! - Dumpability is the memory's too, and the kernel sets it to
//!   `fs.suid_dumpable` when a task of it changes its effective uid or gid: a
//!   child that does must make the memory not dumpable again at once (the
//!   payload's chain does, `chain::credentials::drop_to`), and the parent
//!   checks it again when it goes on (`supervisor::proxy`).
//! - A signal the C library sends "to this thread" goes to the thread id its
//!   thread pointer names, not the child's: musl's abort (a Rust panic, with
//!   panic = "abort") sends SIGABRT to a thread id that is not the child's
//!   (in the box's pid namespace, none: ESRCH), then crashes the child
//!   (SIGSEGV). The run is void (IE) either way.
//! - If the child dies inside the allocator (SIGKILL while it holds the lock),
//!   the parent must take the lock back (`sys::alloc::reclaim_after_shared_child`).
//! - Before Linux 6.2 a process whose children get a new time namespace may
//!   not clone one that shares its memory (EINVAL): the caller forks then.

use std::io;

/// The child's stack: far more than the code rustbox runs there needs (pid 1's
/// payload, the whole chain: at most 6.8 KiB over the integration suite,
/// measured by the depth of the stack it dirtied), and cheap, since only pages
/// it touches are ever backed.
const STACK: usize = 256 << 10;

/// Below the stack: one page no access passes, so an overflow ends the child
/// (SIGSEGV) instead of writing into the parent's memory.
const GUARD: usize = 4096;

/// Start `entry(arg)` in a child that shares this process's memory until its
/// execve; returns the child's pid once the child has exec'd or exited. The
/// child reports like a forked one: SIGCHLD at its end, `wait4` for its status.
/// On failure, which call failed and its error.
///
/// The stack stays mapped until this process exits (its pages are the few the
/// child touched): the child may still be on it at the moment it exits.
///
/// # Safety
/// The caller must be the process's only thread (another would run on in the
/// memory the child uses). `entry` must end in execve or `_exit`, and may use
/// only what `arg` gives it and what this process holds; what it leaves in
/// memory (see the module's notes) is the caller's to accept.
pub unsafe fn spawn<T>(
    entry: fn(&T) -> !,
    arg: &T,
) -> Result<libc::pid_t, (&'static str, io::Error)> {
    let top = guarded_stack(STACK)?;
    let mut start = Start { entry, arg };
    // SAFETY: the child runs `trampoline` on the new stack with a pointer to
    // `start`, which lives on our frame: we are suspended in clone until the
    // child's execve or exit (CLONE_VFORK), so the frame and `arg` outlive every
    // use the child makes of them; the caller is the only thread.
    let pid = unsafe {
        libc::clone(
            trampoline::<T>,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&mut start as *mut Start<T>).cast(),
        )
    };
    if pid < 0 {
        return Err(("clone (CLONE_VM, CLONE_VFORK)", io::Error::last_os_error()));
    }
    Ok(pid)
}

/// A stack of `size` bytes (a multiple of 16) with a guard page below it, for a
/// child that shares this process's memory: its top (x86-64 and aarch64
/// stacks grow down from it). Never unmapped: only the pages the child
/// touches are ever backed, and a child may run on it after its parent is gone.
pub fn guarded_stack(size: usize) -> Result<*mut libc::c_void, (&'static str, io::Error)> {
    // SAFETY: a new private anonymous mapping, inaccessible at first; nothing
    // else refers to it.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            GUARD + size,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(("mmap the stack", io::Error::last_os_error()));
    }
    // SAFETY: GUARD is inside the mapping just made; the pages above the guard
    // become the stack.
    let stack = unsafe { base.cast::<u8>().add(GUARD) };
    // SAFETY: changes the protection of pages of the mapping made above only.
    if unsafe { libc::mprotect(stack.cast(), size, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
        return Err(("mprotect the stack", io::Error::last_os_error()));
    }
    // SAFETY: the top of the mapping.
    Ok(unsafe { stack.add(size) }.cast())
}

/// What the child starts with.
struct Start<'a, T> {
    entry: fn(&T) -> !,
    arg: &'a T,
}

/// The child's first frame, on its own stack.
extern "C" fn trampoline<T>(p: *mut libc::c_void) -> libc::c_int {
    // SAFETY: p is the `Start` that `spawn` passed, alive on the suspended
    // parent's frame until this child's execve or exit.
    let start = unsafe { &*p.cast::<Start<T>>() };
    (start.entry)(start.arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The child writes into the parent's memory and ends; the parent goes on
    /// only after that, and sees the write (a fork's child would write to a copy).
    /// (The test harness has other threads; none touches what the child uses.)
    #[test]
    fn the_child_runs_in_the_parents_memory_before_the_parent_goes_on() {
        struct Shared {
            seen: std::sync::atomic::AtomicU32,
        }
        fn child(s: &Shared) -> ! {
            s.seen.store(42, std::sync::atomic::Ordering::SeqCst);
            // SAFETY: _exit ends the child without running anything of the parent's.
            unsafe { libc::_exit(7) }
        }
        let s = Shared {
            seen: std::sync::atomic::AtomicU32::new(0),
        };
        // SAFETY: the child only stores into `s` and _exits; no other thread
        // of the harness touches `s`.
        let pid = unsafe { spawn(child, &s) }.expect("spawn");
        // CLONE_VFORK: the child has already exited; its write is ours to read.
        assert_eq!(s.seen.load(std::sync::atomic::Ordering::SeqCst), 42);
        let mut st = 0;
        // SAFETY: wait4 for our own child into a local.
        let w = unsafe { libc::waitpid(pid, &mut st, 0) };
        assert_eq!(w, pid);
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 7, "{st:#x}");
    }
}
