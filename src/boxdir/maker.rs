//! The spare maker (`rustbox-netns`): the process that makes a box's next
//! network namespace and mounts it on the box's holder (`boxdir::netns` says
//! what a spare is, how a run takes one, and why it is as fresh as a new one).
//!
//! The maker shares the supervisor's memory (clone with CLONE_VM, no
//! CLONE_VFORK: the supervisor goes on, prints the run's status line and exits
//! while the maker works). A fork copied the supervisor's page tables, and each
//! page either process then wrote was copied once more; the copy was torn down
//! again when the maker ended: about 0.3 ms of CPU a run here, and the
//! supervisor's own writes after the fork (its results) each waited for a copy.
//! Sharing is safe because of what the maker does not do:
//!
//! - It runs only `make`, on a stack of its own (a guard page below it), and
//!   reads only `Plan`, made before the clone and never freed (the supervisor
//!   may exit first: the memory lives while the maker does).
//! - It makes its system calls itself (`sys::raw`), never through the C
//!   library: libc's errno, locks and thread list are the supervisor's thread's
//!   (one thread pointer), and the supervisor runs on at the same time. It
//!   allocates nothing, formats nothing through `core::fmt`, and indexes
//!   nothing unchecked: a panic would abort through libc.
//! - It starts with every signal blocked (the supervisor blocks them around
//!   the clone), so no handler of the supervisor's runs on the maker's stack;
//!   a fault in it is fatal at once (the kernel forces the default action of a
//!   blocked synchronous signal).
//! - Its credentials, descriptor table, namespaces and signal state are its
//!   own (no CLONE_THREAD, CLONE_FILES, CLONE_FS, CLONE_SIGHAND): its first
//!   steps close every descriptor it was born with, take root's uid in full (a
//!   setuid supervisor's real uid is the caller's, who could signal it) and
//!   leave the caller's session, as the forked maker did. It never changes its
//!   effective uid or gid: the kernel would then set the shared memory's
//!   dumpability to `fs.suid_dumpable`, the supervisor's too.
//!
//! The steps and their order are the forked maker's, unchanged: a new network
//! namespace with `lo` up, then under the maker lock (still the file the run
//! saw, before and after it is taken) every mount on the holder detached, the
//! holder checked empty, the spare's mount made detached, its unique id in the
//! tag, the mount attached. Anything that fails ends the maker with nothing
//! more done: it costs only the next run's spare.

use crate::sys::raw::{call as sys, out, ptr, sigmask, syscall6};
use std::ffi::CString;

/// The maker's process name (`comm`), as `ps` shows it.
pub const MAKER_NAME: &std::ffi::CStr = c"rustbox-netns";

use crate::boxdir::netns::NSFS_MAGIC;
use crate::chain::mounts::{MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH, OPEN_TREE_CLONE};
use crate::sys::fd::STATX_MNT_ID_UNIQUE;
/// The maker's stack: it needs a few KiB (a statx, a stat, a statfs, an ifreq,
/// the tag's text); only pages it touches are ever backed.
const STACK: usize = 64 << 10;

/// What the maker works on, made by the supervisor before the clone and never
/// freed.
pub struct Plan {
    /// The holder, `<lock_root>/N.net`.
    pub holder: CString,
    /// Its maker lock, `N.net.lock`.
    pub lock: CString,
    /// Its tag, `N.net.tag`.
    pub tag: CString,
    /// The maker lock's (device, inode) when the run saw it, the box locked.
    pub seen: (u64, u64),
}

/// Start the maker of `plan`'s spare. Never fails the command: what goes wrong
/// costs only the speed-up (the next run makes its own namespace).
pub fn spawn(plan: Plan) {
    // Read by the maker after we may have exited: never freed.
    let plan: &'static Plan = Box::leak(Box::new(plan));
    let Ok(top) = crate::sys::vfork::guarded_stack(STACK) else {
        return;
    };
    // Every signal blocked around the clone, so that the maker starts with all
    // of them blocked (the kernel's whole set).
    let Ok(was) = sigmask(Some(!0)) else {
        return;
    };
    // SAFETY: the child runs `start` on its own stack with a pointer to the
    // leaked plan; it shares our memory but touches only its stack and reads
    // only the plan (see the module's notes), so our own code, which goes on
    // at once, and the child never write the same memory.
    unsafe {
        libc::clone(
            start,
            top,
            libc::CLONE_VM | libc::SIGCHLD,
            (plan as *const Plan).cast_mut().cast(),
        );
    }
    // The clone's result is not needed: a maker that was not made costs only
    // the spare. Restoring the mask cannot fail (the set just read); if it did,
    // the supervisor's last steps would run with every signal blocked, as its
    // termination signals are anyway (read from its signalfd).
    let _restored = sigmask(Some(was));
}

/// The maker's first frame.
extern "C" fn start(p: *mut libc::c_void) -> libc::c_int {
    // SAFETY: p is the leaked `Plan` `spawn` passed: alive for good, never
    // written after the clone.
    let plan = unsafe { &*p.cast::<Plan>() };
    exit(match make(plan) {
        Ok(()) => 0,
        Err(_) => 1,
    })
}

/// Ends the maker (exit_group of its own thread group only).
fn exit(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes an integer; it does not return.
        unsafe { syscall6(libc::SYS_exit_group, [code as usize, 0, 0, 0, 0, 0]) };
    }
}

/// The maker: the forked maker's steps, in its order.
fn make(plan: &Plan) -> Result<(), i32> {
    become_maker()?;
    new_namespace()?;
    mount_spare(plan)
}

/// None of the supervisor's descriptors (its pipes must see end-of-file when
/// rustbox exits), root's uid in full (the real uid only changes: the
/// effective, saved and file system ones are 0 already, so the shared memory's
/// dumpability is left alone), out of the caller's session, named.
fn become_maker() -> Result<(), i32> {
    // SAFETY: close_range(0, ~0, 0) closes this process's own descriptors (its
    // table is its own); the supervisor's objects that own them are never used.
    unsafe { sys(libc::SYS_close_range, [0, u32::MAX as usize, 0, 0, 0, 0]) }?;
    // SAFETY: setresuid takes three integers.
    unsafe { sys(libc::SYS_setresuid, [0, 0, 0, 0, 0, 0]) }?;
    // SAFETY: setsid takes no argument. A maker already leading a session (it
    // never is) stays in it.
    let _ = unsafe { sys(libc::SYS_setsid, [0; 6]) };
    let name = ptr(MAKER_NAME.as_ptr());
    // SAFETY: PR_SET_NAME reads the static NUL-terminated name.
    unsafe {
        sys(
            libc::SYS_prctl,
            [libc::PR_SET_NAME as usize, name, 0, 0, 0, 0],
        )
    }?;
    Ok(())
}

/// The maker's new network namespace, `lo` up.
fn new_namespace() -> Result<(), i32> {
    // SAFETY: unshare takes a flag; the maker is a single thread.
    unsafe {
        sys(
            libc::SYS_unshare,
            [libc::CLONE_NEWNET as usize, 0, 0, 0, 0, 0],
        )
    }?;
    crate::chain::loopback::up_raw().map_err(|(_, e)| e)
}

/// The (device, inode) of what `path` names, no link followed.
fn identity_at(path: &CString) -> Result<(u64, u64), i32> {
    // SAFETY: an all-zero stat is a valid buffer to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let a = [
        libc::AT_FDCWD as usize,
        ptr(path.as_ptr()),
        out(&mut st),
        libc::AT_SYMLINK_NOFOLLOW as usize,
        0,
        0,
    ];
    // SAFETY: newfstatat reads the NUL-terminated path and fills the local stat.
    unsafe { sys(libc::SYS_newfstatat, a) }?;
    Ok((st.st_dev, st.st_ino))
}

/// fstat of `fd`.
fn stat_of(fd: usize) -> Result<libc::stat, i32> {
    // SAFETY: an all-zero stat is a valid buffer to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat fills the local stat.
    unsafe { sys(libc::SYS_fstat, [fd, out(&mut st), 0, 0, 0, 0]) }?;
    Ok(st)
}

/// Open `path` with `flags` (close-on-exec added).
fn open(path: &std::ffi::CStr, flags: i32) -> Result<usize, i32> {
    let flags = (flags | libc::O_CLOEXEC) as usize;
    let a = [libc::AT_FDCWD as usize, ptr(path.as_ptr()), flags, 0, 0, 0];
    // SAFETY: openat reads the NUL-terminated path.
    unsafe { sys(libc::SYS_openat, a) }
}

/// The mount on the holder: only if, when the maker starts these steps and
/// again once it holds the lock, the maker lock is still the file the run saw
/// with the box locked (not removed by `--cleanup`, and made again by another
/// `--init`). Under the lock: what the last run took (and anything stacked
/// over it) off the holder, the empty holder checked, the new spare's mount
/// made detached (a clone of our network namespace's file) so that its unique
/// id goes into the tag before it is attached to the holder.
fn mount_spare(plan: &Plan) -> Result<(), i32> {
    let stale = Err(libc::ESTALE);
    if identity_at(&plan.lock)? != plan.seen {
        return stale;
    }
    // From the holder's last check to the mount, alone (a lock file
    // `--cleanup` removed after we opened it is locked by nobody else).
    let held = open(&plan.lock, libc::O_RDONLY | libc::O_NOFOLLOW)?;
    let exclusive = (libc::LOCK_EX | libc::LOCK_NB) as usize;
    // SAFETY: flock takes a descriptor of ours and a flag.
    unsafe { sys(libc::SYS_flock, [held, exclusive, 0, 0, 0, 0]) }?;
    let st = stat_of(held)?;
    if (st.st_dev, st.st_ino) != plan.seen || identity_at(&plan.lock)? != plan.seen {
        return stale;
    }
    detach_all(&plan.holder)?;
    let holder = open(&plan.holder, libc::O_PATH | libc::O_NOFOLLOW)?;
    if !empty_holder(holder)? {
        return Err(libc::EEXIST);
    }
    let net = open(c"/proc/thread-self/ns/net", libc::O_PATH)?;
    let clone = (OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_EMPTY_PATH as u32) as usize;
    // SAFETY: open_tree of our descriptor itself (the static empty path).
    let tree = unsafe {
        sys(
            libc::SYS_open_tree,
            [net, ptr(c"".as_ptr()), clone, 0, 0, 0],
        )
    }?;
    // Without a unique id no run could take it (`netns::take`): no spare.
    let id = unique_mount_id(tree)?;
    let mut target = [0u8; 96];
    tag_target(id, &mut target)?;
    let tag = ptr(plan.tag.as_ptr());
    // SAFETY: unlinkat reads the NUL-terminated path.
    match unsafe {
        sys(
            libc::SYS_unlinkat,
            [libc::AT_FDCWD as usize, tag, 0, 0, 0, 0],
        )
    } {
        Ok(_) | Err(libc::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let a = [ptr(target.as_ptr()), libc::AT_FDCWD as usize, tag, 0, 0, 0];
    // SAFETY: symlinkat reads two NUL-terminated strings (the target is
    // terminated by `tag_target`).
    unsafe { sys(libc::SYS_symlinkat, a) }?;
    // On exactly the holder file the descriptor names (an unlinked one refuses it).
    let empty = ptr(c"".as_ptr());
    let both = (MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) as usize;
    // SAFETY: move_mount between two descriptors of ours, static empty paths.
    unsafe { sys(libc::SYS_move_mount, [tree, empty, holder, empty, both, 0]) }?;
    Ok(())
}

/// Every mount on `path` detached (MNT_DETACH, no link followed), up to 16
/// stacked; then `path` is no mount point.
fn detach_all(path: &CString) -> Result<(), i32> {
    let how = (libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) as usize;
    for _ in 0..16 {
        // SAFETY: umount2 reads the NUL-terminated path.
        match unsafe { sys(libc::SYS_umount2, [ptr(path.as_ptr()), how, 0, 0, 0, 0]) } {
            Ok(_) => {}
            Err(libc::EINVAL | libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Err(libc::ELOOP)
}

/// Whether the holder `fd` names is the empty file a spare is mounted on: a
/// regular file, no namespace on it.
fn empty_holder(fd: usize) -> Result<bool, i32> {
    // SAFETY: an all-zero statfs is a valid buffer to fill.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs fills the local statfs.
    unsafe { sys(libc::SYS_fstatfs, [fd, out(&mut fs), 0, 0, 0, 0]) }?;
    let st = stat_of(fd)?;
    Ok(fs.f_type as libc::c_long != NSFS_MAGIC && st.st_mode & libc::S_IFMT == libc::S_IFREG)
}

/// The unique id of the mount `fd` names (statx STATX_MNT_ID_UNIQUE);
/// ENOSYS if the kernel has none.
fn unique_mount_id(fd: usize) -> Result<u64, i32> {
    // SAFETY: an all-zero statx is a valid buffer to fill.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let flags = (libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) as usize;
    let mask = STATX_MNT_ID_UNIQUE as usize;
    let a = [fd, ptr(c"".as_ptr()), flags, mask, out(&mut st), 0];
    // SAFETY: statx of our descriptor itself (the static empty path) into the
    // local statx.
    unsafe { sys(libc::SYS_statx, a) }?;
    if st.stx_mask & STATX_MNT_ID_UNIQUE == 0 {
        return Err(libc::ENOSYS);
    }
    Ok(st.stx_mnt_id)
}

/// The tag's target into `buf`, NUL-terminated: our mount namespace
/// ("mnt:[N]", its nsfs link), a space, the spare's mount id in decimal: what
/// `netns::parse_tag` reads. Every write is checked (`get_mut`): nothing here
/// can panic.
fn tag_target(id: u64, buf: &mut [u8; 96]) -> Result<(), i32> {
    // Room for the id (20 digits at most), the space and the NUL.
    let room = buf.len() - 22;
    let link = ptr(c"/proc/self/ns/mnt".as_ptr());
    let a = [
        libc::AT_FDCWD as usize,
        link,
        buf.as_mut_ptr() as usize,
        room,
        0,
        0,
    ];
    // SAFETY: readlinkat writes at most `room` bytes into `buf`.
    let n = unsafe { sys(libc::SYS_readlinkat, a) }?;
    if n == 0 || n >= room {
        return Err(libc::ENAMETOOLONG);
    }
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut v = id;
    for d in digits.iter_mut() {
        *d = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let mut at = n;
    let mut put = |b: u8| -> Result<(), i32> {
        *buf.get_mut(at).ok_or(libc::ENAMETOOLONG)? = b;
        at += 1;
        Ok(())
    };
    put(b' ')?;
    for d in digits.iter().take(len).rev() {
        put(*d)?;
    }
    put(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_names_our_mount_namespace_and_the_id() {
        let mut out = [0u8; 96];
        tag_target(2149723331, &mut out).unwrap();
        let end = out.iter().position(|&b| b == 0).unwrap();
        let ns = std::fs::read_link("/proc/self/ns/mnt").unwrap();
        assert_eq!(
            std::str::from_utf8(&out[..end]).unwrap(),
            format!("{} 2149723331", ns.display())
        );
        tag_target(0, &mut out).unwrap();
        let end = out.iter().position(|&b| b == 0).unwrap();
        assert!(out[..end].ends_with(b" 0"));
        tag_target(u64::MAX, &mut out).unwrap();
        let end = out.iter().position(|&b| b == 0).unwrap();
        assert!(out[..end].ends_with(b" 18446744073709551615"));
    }
}
