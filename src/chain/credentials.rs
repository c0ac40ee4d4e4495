//! Credentials: the box's own uid and gid, no supplementary groups.
//!
//! PR_SET_KEEPCAPS keeps the permitted capability set across setresuid so the next
//! stage can still drop the bounding set (which needs CAP_SETPCAP); the effective set
//! is emptied by the kernel at the uid change, so from here on file access is checked
//! as the box user. The permitted set it keeps is emptied later in the chain, by
//! `drop_capabilities` (after `stdio` and `hygiene`, which still need it), and read
//! back there.

use crate::sys::error::StepError;

pub fn drop_to(uid: u32, gid: u32) -> Result<(), StepError> {
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } < 0 {
        return Err(StepError::last_os(
            "credentials.keepcaps",
            "PR_SET_KEEPCAPS",
        ));
    }
    // SAFETY: setgroups with an empty list.
    if unsafe { libc::setgroups(0, std::ptr::null()) } < 0 {
        return Err(StepError::last_os("credentials.setgroups", "setgroups([])"));
    }
    // SAFETY: plain id-setting syscalls.
    if unsafe { libc::setresgid(gid, gid, gid) } < 0 {
        return Err(StepError::last_os(
            "credentials.setresgid",
            format!("gid {gid}"),
        ));
    }
    // SAFETY: setresuid takes three integers and no pointer; failure is checked.
    if unsafe { libc::setresuid(uid, uid, uid) } < 0 {
        return Err(StepError::last_os(
            "credentials.setresuid",
            format!("uid {uid}"),
        ));
    }
    not_dumpable()?;
    verify(uid, gid)
}

/// Not dumpable again, read back. The uid change set the memory's
/// dumpability to `fs.suid_dumpable`, and until the execve this memory is the
/// box's pid 1's (`sys::vfork`): with `suid_dumpable` 1, a process of the box's
/// uid could otherwise trace it. No such process exists yet (the box's
/// processes are this one's descendants, and there are none), and none can
/// before this returns. The program's execve sets its own dumpability.
fn not_dumpable() -> Result<(), StepError> {
    crate::sys::dumpable::clear("credentials.dumpable")
}

/// All six ids must be the box's, and there must be no supplementary group.
pub fn verify(uid: u32, gid: u32) -> Result<(), StepError> {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: getresuid writes three ids into our locals.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    let (mut gr, mut ge, mut gs) = (0, 0, 0);
    // SAFETY: getresgid writes three ids into our locals.
    unsafe { libc::getresgid(&mut gr, &mut ge, &mut gs) };
    if [r, e, s] != [uid; 3] || [gr, ge, gs] != [gid; 3] {
        return Err(StepError::new(
            "credentials.verify",
            format!("uids {r}/{e}/{s} gids {gr}/{ge}/{gs}, expected {uid} and {gid}"),
        ));
    }
    // SAFETY: getgroups(0, NULL) only returns the count.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n != 0 {
        return Err(StepError::new(
            "credentials.verify",
            format!("{n} supplementary groups remain"),
        ));
    }
    Ok(())
}
