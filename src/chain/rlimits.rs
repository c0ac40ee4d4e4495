//! Resource limits of the payload process (isolate's -m, -k, -f, -n, -p, --core).

use crate::plan::RlimitPlan;
use crate::sys::error::StepError;

/// (resource, value, name) triples; the value is both soft and hard limit.
pub fn apply(plan: &RlimitPlan) -> Result<(), StepError> {
    for &(res, val, name) in plan {
        let lim = libc::rlimit {
            rlim_cur: val as libc::rlim_t,
            rlim_max: val as libc::rlim_t,
        };
        // SAFETY: setrlimit with a filled struct.
        if unsafe { libc::setrlimit(res, &lim) } < 0 {
            return Err(StepError::last_os(
                "rlimits",
                format!("{name} = {}", show(val)),
            ));
        }
        let mut got = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills our struct.
        unsafe { libc::getrlimit(res, &mut got) };
        if got.rlim_cur != val || got.rlim_max != val {
            return Err(StepError::new(
                "rlimits",
                format!("{name} reads back as {}", got.rlim_cur),
            ));
        }
    }
    Ok(())
}

pub fn show(v: u64) -> String {
    if v == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

pub fn describe(plan: &RlimitPlan) -> String {
    plan.iter()
        .map(|(_, v, n)| format!("{n}={}", show(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}
