//! System-call numbers by ABI. An x86_64 kernel serves three system-call tables,
//! and a seccomp filter sees each call as (architecture, number):
//!
//! - x86_64 (`syscall`): AUDIT_ARCH_X86_64, the native numbers;
//! - x32 (`syscall` with bit 30 set in the number): AUDIT_ARCH_X86_64 too, the
//!   x86_64 numbers | 0x40000000, plus numbers 512–547 of its own for the calls
//!   whose arguments have another layout in x32 (ioctl, ptrace, readv, ...);
//! - i386 (`int 0x80`, `sysenter`, a `gcc -m32` program): AUDIT_ARCH_I386, a
//!   table of its own: bpf is 357 there and 321 natively; i386's 102 is
//!   socketcall, x86_64's getuid.
//!
//! The rules of `seccomp.rs` name calls; [`Abi::numbers`] gives the numbers a name
//! has on one ABI, none when that ABI has no such call (`kexec_file_load` on i386,
//! `socketcall` natively). The tables hold the calls the rules name, not the
//! whole kernel table: the unit tests check each entry, and that every rule name
//! the installed kernel headers know on an ABI is in its table here
//! (`asm/unistd_64.h`, `unistd_32.h`, `unistd_x32.h`). The native numbers are the
//! libc crate's; the i386 and x32 ones are the kernel's `syscall_32.tbl` and
//! `syscall_64.tbl` facts.

/// AUDIT_ARCH_X86_64: native and x32 calls.
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// AUDIT_ARCH_I386: i386 calls, from a 32-bit program or `int 0x80`.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// The bit an x32 call sets in its number (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// cachestat(2) (Linux 6.5), not in the libc crate for x86_64: the same number on
/// every ABI (the unified table of new calls).
const SYS_CACHESTAT: i64 = 451;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    X86_64,
    X32,
    I386,
}

impl Abi {
    pub const ALL: [Abi; 3] = [Abi::X86_64, Abi::X32, Abi::I386];

    /// The numbers of call `name` on this ABI, as the filter sees them (x32's with
    /// the x32 bit). Empty when this ABI has no such call.
    ///
    /// x32 gets both numbers of a call that has one of its own (ioctl: 514 and
    /// 16): current kernels answer ENOSYS for an x86_64-only number with the x32
    /// bit, but kernels before the x32 table was split off (5.4) ran the x86_64
    /// call for it, so a rule holds on both.
    pub fn numbers(self, name: &str) -> Vec<u32> {
        let find = |t: &[(&str, u32)]| t.iter().find(|(n, _)| *n == name).map(|&(_, nr)| nr);
        let native = NATIVE
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, nr)| nr as u32);
        match self {
            Abi::X86_64 => native.into_iter().collect(),
            Abi::I386 => find(I386).into_iter().collect(),
            Abi::X32 => native
                .into_iter()
                .chain(find(X32_OWN))
                .map(|nr| nr | X32_SYSCALL_BIT)
                .collect(),
        }
    }

    /// Whether the tables know a call of this name, natively or on i386 (a rule
    /// naming none is a typo). x32's calls are x86_64's.
    pub fn known_anywhere(name: &str) -> bool {
        !Abi::X86_64.numbers(name).is_empty() || !Abi::I386.numbers(name).is_empty()
    }

    pub fn name(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::X32 => "x32",
            Abi::I386 => "i386",
        }
    }
}

/// The native numbers of the calls the rules name.
const NATIVE: &[(&str, i64)] = &[
    // The --syscalls flags and the always-on rules.
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("clone", libc::SYS_clone),
    ("clone3", libc::SYS_clone3),
    ("unshare", libc::SYS_unshare),
    ("socket", libc::SYS_socket),
    ("flock", libc::SYS_flock),
    ("fcntl", libc::SYS_fcntl),
    ("ioctl", libc::SYS_ioctl),
    ("personality", libc::SYS_personality),
    // The kernel surface.
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("kcmp", libc::SYS_kcmp),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("acct", libc::SYS_acct),
    ("quotactl", libc::SYS_quotactl),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("reboot", libc::SYS_reboot),
    ("syslog", libc::SYS_syslog),
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ("fanotify_init", libc::SYS_fanotify_init),
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
    ("uselib", libc::SYS_uselib),
    ("memfd_secret", libc::SYS_memfd_secret),
    ("modify_ldt", libc::SYS_modify_ldt),
    ("mbind", libc::SYS_mbind),
    ("set_mempolicy", libc::SYS_set_mempolicy),
    ("get_mempolicy", libc::SYS_get_mempolicy),
    ("set_mempolicy_home_node", libc::SYS_set_mempolicy_home_node),
    ("migrate_pages", libc::SYS_migrate_pages),
    ("move_pages", libc::SYS_move_pages),
    ("process_madvise", libc::SYS_process_madvise),
    ("process_mrelease", libc::SYS_process_mrelease),
    ("cachestat", SYS_CACHESTAT),
    ("inotify_init", libc::SYS_inotify_init),
    ("inotify_init1", libc::SYS_inotify_init1),
    ("inotify_add_watch", libc::SYS_inotify_add_watch),
    ("sysfs", libc::SYS_sysfs),
];

/// x32's numbers of its own (`syscall_64.tbl`, the `x32` rows, without the x32
/// bit): the whole range, 512–547. The kernel adds no more: new calls get one
/// number for x86_64 and x32 alike.
const X32_OWN: &[(&str, u32)] = &[
    ("rt_sigaction", 512),
    ("rt_sigreturn", 513),
    ("ioctl", 514),
    ("readv", 515),
    ("writev", 516),
    ("recvfrom", 517),
    ("sendmsg", 518),
    ("recvmsg", 519),
    ("execve", 520),
    ("ptrace", 521),
    ("rt_sigpending", 522),
    ("rt_sigtimedwait", 523),
    ("rt_sigqueueinfo", 524),
    ("sigaltstack", 525),
    ("timer_create", 526),
    ("mq_notify", 527),
    ("kexec_load", 528),
    ("waitid", 529),
    ("set_robust_list", 530),
    ("get_robust_list", 531),
    ("vmsplice", 532),
    ("move_pages", 533),
    ("preadv", 534),
    ("pwritev", 535),
    ("rt_tgsigqueueinfo", 536),
    ("recvmmsg", 537),
    ("sendmmsg", 538),
    ("process_vm_readv", 539),
    ("process_vm_writev", 540),
    ("setsockopt", 541),
    ("getsockopt", 542),
    ("io_setup", 543),
    ("io_submit", 544),
    ("execveat", 545),
    ("preadv2", 546),
    ("pwritev2", 547),
];

/// The i386 numbers of the calls the rules name (`syscall_32.tbl`), and of the
/// i386-only calls that reach the same kernel code: `fcntl64` (fcntl with 64-bit
/// locks), `socketcall` (the socket calls behind one number, their arguments in
/// memory), `vm86old` and `vm86` (virtual-8086 mode, 16-bit code like
/// modify_ldt's segments). i386 has no `kexec_file_load`.
const I386: &[(&str, u32)] = &[
    ("keyctl", 288),
    ("add_key", 286),
    ("request_key", 287),
    ("io_uring_setup", 425),
    ("io_uring_enter", 426),
    ("io_uring_register", 427),
    ("clone", 120),
    ("clone3", 435),
    ("unshare", 310),
    ("socket", 359),
    ("socketcall", 102),
    ("flock", 143),
    ("fcntl", 55),
    ("fcntl64", 221),
    ("ioctl", 54),
    ("personality", 136),
    ("bpf", 357),
    ("perf_event_open", 336),
    ("userfaultfd", 374),
    ("ptrace", 26),
    ("process_vm_readv", 347),
    ("process_vm_writev", 348),
    ("pidfd_getfd", 438),
    ("kcmp", 349),
    ("kexec_load", 283),
    ("init_module", 128),
    ("finit_module", 350),
    ("delete_module", 129),
    ("open_by_handle_at", 342),
    ("name_to_handle_at", 341),
    ("acct", 51),
    ("quotactl", 131),
    ("quotactl_fd", 443),
    ("swapon", 87),
    ("swapoff", 115),
    ("reboot", 88),
    ("syslog", 103),
    ("lookup_dcookie", 253),
    ("fanotify_init", 338),
    ("iopl", 110),
    ("ioperm", 101),
    ("uselib", 86),
    ("memfd_secret", 447),
    ("modify_ldt", 123),
    ("vm86old", 113),
    ("vm86", 166),
    ("mbind", 274),
    ("set_mempolicy", 276),
    ("get_mempolicy", 275),
    ("set_mempolicy_home_node", 450),
    ("migrate_pages", 294),
    ("move_pages", 317),
    ("process_madvise", 440),
    ("process_mrelease", 448),
    ("cachestat", 451),
    ("inotify_init", 291),
    ("inotify_init1", 332),
    ("inotify_add_watch", 292),
    ("sysfs", 135),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Calls newer than the installed kernel headers (linux-libc-dev of Debian 12
    /// is 6.1): their numbers are checked here instead, from the kernel's tables.
    const NEWER_THAN_HEADERS: &[(&str, u32)] = &[("cachestat", 451)];

    /// `#define __NR_name N` or `#define __NR_name (__X32_SYSCALL_BIT + N)`.
    fn header(file: &str) -> BTreeMap<String, u32> {
        let path = format!("/usr/include/x86_64-linux-gnu/asm/{file}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{path}: {e} (the kernel headers: make deps installs linux-libc-dev)")
        });
        let mut out = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("#define __NR_") else {
                continue;
            };
            let (name, value) = rest.split_once(' ').unwrap();
            let value = value.trim();
            let nr = match value.strip_prefix("(__X32_SYSCALL_BIT + ") {
                Some(v) => X32_SYSCALL_BIT | v.trim_end_matches(')').parse::<u32>().unwrap(),
                None => value.parse().unwrap(),
            };
            out.insert(name.to_string(), nr);
        }
        assert!(out.len() > 300, "{path}: {} calls", out.len());
        out
    }

    /// The names the rules may use: those of the native and i386 tables.
    fn all_names() -> Vec<&'static str> {
        let mut v: Vec<&str> = NATIVE.iter().map(|(n, _)| *n).collect();
        v.extend(I386.iter().map(|(n, _)| *n));
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Each table entry is the headers' number for the name, and a name the
    /// headers know on an ABI is never missing from that ABI's table here.
    #[test]
    fn numbers_are_the_kernel_headers() {
        let headers = [
            (Abi::X86_64, header("unistd_64.h")),
            (Abi::X32, header("unistd_x32.h")),
            (Abi::I386, header("unistd_32.h")),
        ];
        let mut problems = Vec::new();
        for (abi, h) in &headers {
            for name in all_names() {
                let ours = abi.numbers(name);
                // A call newer than the headers is on every ABI (the unified
                // numbers).
                let newer = NEWER_THAN_HEADERS.iter().find(|(n, _)| *n == name);
                let theirs = h.get(name).copied().or_else(|| match abi {
                    Abi::X32 => newer.map(|&(_, nr)| nr | X32_SYSCALL_BIT),
                    _ => newer.map(|&(_, nr)| nr),
                });
                match theirs {
                    // x32 may list the x86_64 number besides its own.
                    Some(nr) if ours.contains(&nr) => {}
                    None if ours.is_empty() => {}
                    // An x86_64-only call (uselib): its x86_64 number with the
                    // x32 bit, for the kernels that ran it.
                    None if *abi == Abi::X32 && X32_OWN.iter().all(|(n, _)| *n != name) => {}
                    _ => problems.push(format!(
                        "{} {name}: ours {ours:x?}, headers {theirs:x?}",
                        abi.name()
                    )),
                }
                if *abi == Abi::X32 {
                    for nr in &ours {
                        let base = nr & !X32_SYSCALL_BIT;
                        let native = Abi::X86_64.numbers(name);
                        assert!(native.contains(&base) || (512..=547).contains(&base));
                    }
                }
            }
        }
        // x32's own range is whole and right: every header entry from 512 on is
        // ours, and each of ours is the header's.
        for (name, nr) in X32_OWN {
            if headers[1].1.get(*name) != Some(&(nr | X32_SYSCALL_BIT)) {
                problems.push(format!("x32 {name} {nr}: not the header's"));
            }
        }
        for (name, nr) in &headers[1].1 {
            if nr & !X32_SYSCALL_BIT >= 512 && !Abi::X32.numbers(name).contains(nr) {
                problems.push(format!("x32 {name} {nr:#x} missing from X32_OWN"));
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn foreign_only_calls_and_calls_missing_on_an_abi() {
        assert!(Abi::X86_64.numbers("socketcall").is_empty());
        assert!(Abi::X32.numbers("fcntl64").is_empty());
        assert_eq!(Abi::I386.numbers("socketcall"), [102]);
        assert!(Abi::I386.numbers("kexec_file_load").is_empty());
        assert_eq!(
            Abi::X32.numbers("ioctl"),
            [16 | X32_SYSCALL_BIT, 514 | X32_SYSCALL_BIT]
        );
        assert_eq!(Abi::X32.numbers("bpf"), [321 | X32_SYSCALL_BIT]);
        assert!(Abi::known_anywhere("vm86"));
        assert!(!Abi::known_anywhere("no_such_call"));
        // No name twice in a table.
        for t in [
            NATIVE.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            I386.iter().map(|(n, _)| *n).collect(),
            X32_OWN.iter().map(|(n, _)| *n).collect(),
        ] {
            let mut s = t.clone();
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), t.len());
        }
    }
}
