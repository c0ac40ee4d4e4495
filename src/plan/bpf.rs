//! One classic-BPF seccomp program for a table of answers: a binary search on the
//! call number, then, for the calls with rules, the argument checks.
//!
//! Why not one seccompiler program per errno, as before: the kernel runs every
//! program of the stack on a call, and at install time it simulates each program
//! for every call number (the action cache) and JIT-compiles it. Six linear
//! programs took 430 us to install, one program searching the number in log time
//! takes 110 us (`seccomp(SECCOMP_SET_MODE_FILTER)` in a forked child, median of
//! 300, development VM); fork + filter + exec of /bin/true: 1.24 ms against 0.89.
//!
//! The answers of one call are tried in order and the first that holds is
//! returned: listing them newest program first gives the kernel's answer for a
//! stack of programs whose answers are all ERRNO (for actions of equal
//! precedence, the most recently installed program wins).

use crate::sys::error::StepError;
use seccompiler::{sock_filter, BpfProgram};
use std::collections::BTreeMap;

/// A condition on one argument of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    /// The low 32 bits of the argument equal `value` (for `int` and `unsigned
    /// int` arguments, which the kernel reads from the low half only).
    Low32Eq { arg: u8, value: u32 },
    /// Every bit of `mask` is set in the 64-bit argument.
    AllBits { arg: u8, mask: u64 },
    /// The low 32 bits of the argument equal none of `values` (an allow-list of
    /// `int` values: the rule holds for everything else).
    Low32NotIn { arg: u8, values: &'static [u32] },
}

/// ERRNO `errno` when `when` is empty, or when all conditions of one of its rules
/// hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub errno: i32,
    pub when: Vec<Vec<Cond>>,
}

/// The answers for each call number, in the order they are tried.
pub type Table = BTreeMap<u32, Vec<Answer>>;

pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
/// The largest program the kernel takes (BPF_MAXINSNS).
pub const MAX_LEN: usize = 4096;

pub const LD_W_ABS: u16 = 0x20;
const ALU_AND_K: u16 = 0x54;
pub const JA: u16 = 0x05;
pub const JEQ_K: u16 = 0x15;
pub const JGE_K: u16 = 0x35;
pub const RET_K: u16 = 0x06;
/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARGS: u32 = 16;
/// Linear search below this many numbers.
const LINEAR: usize = 4;

pub fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

pub fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn short(n: usize) -> Result<u8, StepError> {
    u8::try_from(n).map_err(|_| StepError::new("seccomp.build", "a rule is too long to jump over"))
}

/// Offset of the low (`high` false) or high half of argument `arg`.
fn arg_word(arg: u8, high: bool) -> u32 {
    let little = cfg!(target_endian = "little");
    ARGS + 8 * u32::from(arg) + if high == little { 4 } else { 0 }
}

/// Code that falls through when `c` holds and jumps `fail` instructions past its
/// own end otherwise.
fn cond(c: &Cond, fail: usize) -> Result<Vec<sock_filter>, StepError> {
    let mut out = Vec::new();
    match *c {
        Cond::Low32Eq { arg, value } => {
            out.push(stmt(LD_W_ABS, arg_word(arg, false)));
            out.push(jump(JEQ_K, value, 0, short(fail)?));
        }
        Cond::AllBits { arg, mask } => {
            let halves = [(false, mask as u32), (true, (mask >> 32) as u32)];
            let halves: Vec<_> = halves.into_iter().filter(|&(_, m)| m != 0).collect();
            for (i, &(high, m)) in halves.iter().enumerate() {
                // Each later half adds its three instructions to the way out.
                let rest = 3 * (halves.len() - 1 - i);
                out.push(stmt(LD_W_ABS, arg_word(arg, high)));
                out.push(stmt(ALU_AND_K, m));
                out.push(jump(JEQ_K, m, 0, short(fail + rest)?));
            }
        }
        Cond::Low32NotIn { arg, values } => {
            out.push(stmt(LD_W_ABS, arg_word(arg, false)));
            // A match jumps over the later comparisons, then `fail` more.
            for (i, &v) in values.iter().enumerate() {
                let rest = values.len() - 1 - i;
                out.push(jump(JEQ_K, v, short(fail + rest)?, 0));
            }
        }
    }
    Ok(out)
}

/// The code for one call: its answers in order, then ALLOW. Always returns.
fn leaf(answers: &[Answer]) -> Result<Vec<sock_filter>, StepError> {
    let mut out = Vec::new();
    for a in answers {
        let ret = stmt(RET_K, RET_ERRNO | (a.errno as u32 & 0xffff));
        if a.when.is_empty() {
            out.push(ret);
            return Ok(out);
        }
        for rule in &a.when {
            // Conditions, each failing to just past this rule's RET.
            let mut code: Vec<Vec<sock_filter>> = Vec::new();
            let lens: Vec<usize> = rule
                .iter()
                .map(|c| cond(c, 0).map(|v| v.len()))
                .collect::<Result<_, _>>()?;
            for (i, c) in rule.iter().enumerate() {
                let after: usize = lens[i + 1..].iter().sum::<usize>() + 1;
                code.push(cond(c, after)?);
            }
            out.extend(code.into_iter().flatten());
            out.push(ret.clone());
        }
    }
    out.push(stmt(RET_K, RET_ALLOW));
    Ok(out)
}

/// The search over `nrs` (sorted); the accumulator holds the call number.
fn search(nrs: &[u32], table: &Table) -> Result<Vec<sock_filter>, StepError> {
    if nrs.len() < LINEAR {
        let mut out = Vec::new();
        for nr in nrs {
            let l = leaf(&table[nr])?;
            out.push(jump(JEQ_K, *nr, 0, short(l.len())?));
            out.extend(l);
        }
        out.push(stmt(RET_K, RET_ALLOW));
        return Ok(out);
    }
    let mid = nrs.len() / 2;
    let (low, high) = (search(&nrs[..mid], table)?, search(&nrs[mid..], table)?);
    // nr >= nrs[mid]: the JA to the upper half; below: skip it.
    let mut out = vec![jump(JGE_K, nrs[mid], 0, 1), stmt(JA, low.len() as u32)];
    out.extend(low);
    out.extend(high);
    Ok(out)
}

/// The table as a section of a program: loads the call number, searches it, and
/// always returns (the answer, or ALLOW for a number the table does not hold).
pub fn section(table: &Table) -> Result<Vec<sock_filter>, StepError> {
    let nrs: Vec<u32> = table.keys().copied().collect();
    let mut out = vec![stmt(LD_W_ABS, NR)];
    out.extend(search(&nrs, table)?);
    Ok(out)
}

/// The code as a program, if the kernel takes one that long.
pub fn program(code: Vec<sock_filter>) -> Result<BpfProgram, StepError> {
    if code.len() > MAX_LEN {
        return Err(StepError::new(
            "seccomp.build",
            format!("{} instructions, more than the kernel takes", code.len()),
        ));
    }
    Ok(code)
}

/// `prefix` (the architecture checks, falling through for native calls), then
/// the table.
pub fn compile(prefix: &[sock_filter], table: &Table) -> Result<BpfProgram, StepError> {
    let mut prog = prefix.to_vec();
    prog.extend(section(table)?);
    program(prog)
}

/// A classic-BPF interpreter for the instructions seccomp programs use here and
/// in seccompiler's output: the tests' reference for what the kernel answers.
#[cfg(test)]
pub fn run(prog: &[sock_filter], data: &[u32; 16]) -> u32 {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let i = &prog[pc];
        pc += 1;
        match i.code {
            LD_W_ABS => a = data[i.k as usize / 4],
            ALU_AND_K => a &= i.k,
            JA => pc += i.k as usize,
            JEQ_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
            JGE_K => pc += usize::from(if a >= i.k { i.jt } else { i.jf }),
            0x25 => pc += usize::from(if a > i.k { i.jt } else { i.jf }), // JGT
            0x45 => pc += usize::from(if a & i.k != 0 { i.jt } else { i.jf }), // JSET
            RET_K => return i.k,
            c => panic!("instruction {c:#x} not interpreted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(nr: u32, args: [u64; 6]) -> [u32; 16] {
        let mut d = [0u32; 16];
        d[0] = nr;
        for (i, a) in args.iter().enumerate() {
            d[(arg_word(i as u8, false) / 4) as usize] = *a as u32;
            d[(arg_word(i as u8, true) / 4) as usize] = (*a >> 32) as u32;
        }
        d
    }

    #[test]
    fn search_and_conditions() {
        let mut t = Table::new();
        for nr in [3, 9, 17, 40, 41, 100, 200, 300, 301] {
            t.insert(
                nr,
                vec![Answer {
                    errno: nr as i32,
                    when: vec![],
                }],
            );
        }
        t.insert(
            50,
            vec![
                Answer {
                    errno: 1,
                    when: vec![
                        vec![Cond::Low32Eq { arg: 1, value: 7 }],
                        vec![
                            Cond::AllBits {
                                arg: 0,
                                mask: 0x1_0000_0010,
                            },
                            Cond::Low32Eq { arg: 2, value: 9 },
                        ],
                    ],
                },
                Answer {
                    errno: 2,
                    when: vec![vec![Cond::Low32Eq { arg: 3, value: 5 }]],
                },
            ],
        );
        let p = compile(&[], &t).unwrap();
        for nr in 0..400 {
            let want = match t.get(&nr) {
                Some(_) if nr != 50 => RET_ERRNO | nr,
                _ => RET_ALLOW,
            };
            assert_eq!(run(&p, &data(nr, [0; 6])), want, "nr {nr}");
        }
        let e = |n| RET_ERRNO | n;
        assert_eq!(run(&p, &data(50, [0, 7 | 1 << 40, 0, 0, 0, 0])), e(1));
        assert_eq!(run(&p, &data(50, [0x1_0000_0010, 0, 9, 0, 0, 0])), e(1));
        assert_eq!(run(&p, &data(50, [0x0_0000_0010, 0, 9, 5, 0, 0])), e(2));
        assert_eq!(
            run(&p, &data(50, [0x1_0000_0000, 0, 9, 0, 0, 0])),
            RET_ALLOW
        );
        assert_eq!(
            run(&p, &data(50, [0x1_0000_0010, 0, 8, 0, 0, 0])),
            RET_ALLOW
        );
        assert_eq!(run(&p, &data(50, [0, 0, 0, 5, 0, 0])), e(2));
    }

    /// What a condition means, on the arguments themselves.
    fn holds(c: &Cond, args: &[u64; 6]) -> bool {
        match *c {
            Cond::Low32Eq { arg, value } => args[arg as usize] as u32 == value,
            Cond::AllBits { arg, mask } => args[arg as usize] & mask == mask,
            Cond::Low32NotIn { arg, values } => !values.contains(&(args[arg as usize] as u32)),
        }
    }

    /// What the table means: the first answer one of whose rules holds, else ALLOW.
    fn meaning(t: &Table, nr: u32, args: &[u64; 6]) -> u32 {
        for a in t.get(&nr).map(Vec::as_slice).unwrap_or(&[]) {
            if a.when.is_empty() || a.when.iter().any(|r| r.iter().all(|c| holds(c, args))) {
                return RET_ERRNO | a.errno as u32;
            }
        }
        RET_ALLOW
    }

    #[test]
    fn not_in_conditions() {
        const QUERY_OR_LINUX: &[u32] = &[0xffff_ffff, 0];
        const ROUTE: &[u32] = &[0];
        const NONE: &[u32] = &[];
        const MANY: &[u32] = &[1, 2, 3, 5, 8, 13, 21];
        let not_in = |arg, values| Cond::Low32NotIn { arg, values };
        let eq = |arg, value| Cond::Low32Eq { arg, value };
        let mut t = Table::new();
        // personality: anything but the query and PER_LINUX.
        t.insert(
            135,
            vec![Answer {
                errno: 1,
                when: vec![vec![not_in(0, QUERY_OR_LINUX)]],
            }],
        );
        // socket: AF_VSOCK always, AF_NETLINK with a protocol other than 0.
        t.insert(
            41,
            vec![
                Answer {
                    errno: 97,
                    when: vec![vec![eq(0, 40)]],
                },
                Answer {
                    errno: 93,
                    when: vec![vec![eq(0, 16), not_in(2, ROUTE)]],
                },
            ],
        );
        // A condition in the middle of a rule, and an empty list (always holds).
        t.insert(
            7,
            vec![Answer {
                errno: 22,
                when: vec![
                    vec![not_in(1, MANY), eq(0, 16), not_in(3, ROUTE)],
                    vec![eq(0, 99), not_in(5, NONE)],
                ],
            }],
        );
        for nr in [1, 2, 3, 200, 300] {
            t.insert(
                nr,
                vec![Answer {
                    errno: 5,
                    when: vec![],
                }],
            );
        }
        let p = compile(&[], &t).unwrap();
        let values: Vec<u64> = [0u64, 1, 2, 3, 4, 5, 8, 13, 15, 16, 21, 40, 99, 0x40_0000]
            .into_iter()
            .flat_map(|v| [v, v | 1 << 32, v | 0xffff_ffff_0000_0000, 0xffff_ffff])
            .collect();
        let mut checked = 0;
        for nr in [0, 1, 7, 41, 135, 136, 300] {
            for &a0 in &values {
                for &a1 in &values {
                    for &a2 in &[0u64, 1 << 32, 15, 15 | 1 << 32, 9] {
                        for &a3 in &[0u64, 4] {
                            for &a5 in &[0u64, 7] {
                                let args = [a0, a1, a2, a3, 0, a5];
                                assert_eq!(
                                    run(&p, &data(nr, args)),
                                    meaning(&t, nr, &args),
                                    "nr {nr} args {args:x?}"
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 100_000, "{checked}");
        // The cases the profile relies on, spelled out.
        let e = |n| RET_ERRNO | n;
        let pers = |a0| run(&p, &data(135, [a0, 0, 0, 0, 0, 0]));
        assert_eq!(pers(0xffff_ffff), RET_ALLOW);
        assert_eq!(pers(0), RET_ALLOW);
        assert_eq!(pers(1 << 32), RET_ALLOW, "the kernel reads PER_LINUX");
        assert_eq!(pers(0x40_0000), e(1), "READ_IMPLIES_EXEC");
        assert_eq!(pers(0x40_0000 | 1 << 32), e(1));
        let sock = |a0, a2| run(&p, &data(41, [a0, 3, a2, 0, 0, 0]));
        assert_eq!(sock(16, 0), RET_ALLOW, "NETLINK_ROUTE");
        assert_eq!(sock(16, 15), e(93), "NETLINK_KOBJECT_UEVENT");
        assert_eq!(sock(16 | 1 << 32, 15 | 1 << 32), e(93), "high bits");
        assert_eq!(sock(16, 1 << 32), RET_ALLOW, "the kernel reads protocol 0");
        assert_eq!(sock(40, 15), e(97));
        assert_eq!(sock(2, 15), RET_ALLOW);
    }
}
