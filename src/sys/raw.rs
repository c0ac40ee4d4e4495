//! System calls without the C library: the number and arguments straight to
//! the kernel, the result as the kernel gives it (a negative errno on failure).
//!
//! Why: code that runs in another process's memory at the same time as that
//! process (the spare maker, `boxdir::maker`) must not use the C library,
//! whose errno, locks and thread list live in that memory and belong to the
//! other process's thread: a libc wrapper's errno write could land between a
//! syscall of the other process and its read of errno. These touch no memory
//! but the registers and what the arguments point to.

/// A system call with up to six arguments (unused ones zero), its result
/// checked: the value, or the errno.
///
/// # Safety
/// As `syscall6`.
pub unsafe fn call(nr: libc::c_long, a: [usize; 6]) -> Result<usize, i32> {
    // SAFETY: the caller's.
    check(unsafe { syscall6(nr, a) })
}

/// A pointer argument the kernel reads.
pub fn ptr<T>(p: *const T) -> usize {
    p as usize
}

/// A pointer argument the kernel writes.
pub fn out<T>(p: &mut T) -> usize {
    p as *mut T as usize
}

/// The kernel's sigset size, what rt_sigaction and rt_sigprocmask take.
pub const KERNEL_SIGSET: usize = 8;

/// The signal mask set to `new` (the kernel's whole set: libc's own calls
/// leave out the signals it keeps for itself), or only read with None; the
/// mask before. The process must be single-threaded for this to be its mask.
pub fn sigmask(new: Option<u64>) -> Result<u64, i32> {
    let mut was = 0u64;
    let set = new.as_ref().map_or(0, |n| ptr(n));
    let a = [
        libc::SIG_SETMASK as usize,
        set,
        out(&mut was),
        KERNEL_SIGSET,
        0,
        0,
    ];
    // SAFETY: rt_sigprocmask reads `new` (if given) and writes `was`, both
    // live 8-byte sets.
    unsafe { call(libc::SYS_rt_sigprocmask, a) }?;
    Ok(was)
}

/// A system call's result: the value, or the errno the kernel returned.
pub fn check(r: isize) -> Result<usize, i32> {
    if (-4095..0).contains(&r) {
        Err(-r as i32)
    } else {
        Ok(r as usize)
    }
}

/// System call `nr` with six arguments (unused ones zero).
///
/// # Safety
/// As the system call itself: the arguments must be what the kernel expects of
/// `nr`, pointers valid for what it reads and writes.
#[cfg(target_arch = "x86_64")]
pub unsafe fn syscall6(nr: libc::c_long, a: [usize; 6]) -> isize {
    let r: isize;
    // SAFETY: the x86-64 system call convention; the kernel clobbers rcx and
    // r11 only, and reads or writes memory only through the arguments.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => r,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    r
}

/// System call `nr` with six arguments (unused ones zero).
///
/// # Safety
/// As the system call itself: the arguments must be what the kernel expects of
/// `nr`, pointers valid for what it reads and writes.
#[cfg(target_arch = "aarch64")]
pub unsafe fn syscall6(nr: libc::c_long, a: [usize; 6]) -> isize {
    let r: isize;
    // SAFETY: the aarch64 system call convention (number in x8, result in x0);
    // the kernel reads or writes memory only through the arguments.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") nr as usize,
            inlateout("x0") a[0] => r,
            in("x1") a[1],
            in("x2") a[2],
            in("x3") a[3],
            in("x4") a[4],
            in("x5") a[5],
            options(nostack),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_errnos_come_back_as_the_kernel_gives_them() {
        // SAFETY: getpid takes no argument.
        let pid = check(unsafe { syscall6(libc::SYS_getpid, [0; 6]) });
        assert_eq!(pid, Ok(std::process::id() as usize));
        // SAFETY: close of a descriptor that cannot be open.
        let bad = check(unsafe { syscall6(libc::SYS_close, [1 << 30, 0, 0, 0, 0, 0]) });
        assert_eq!(bad, Err(libc::EBADF));
    }
}
