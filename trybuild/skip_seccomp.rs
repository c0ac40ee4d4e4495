// exec without a seccomp filter
use rustbox::{chain::{Fresh, Reporter}, plan::ContainPlan};
use rustbox::sys::error::StepError;

#[allow(unreachable_code, unused_variables)]
fn chain(plan: &ContainPlan, rep: &Reporter) -> Result<(), StepError> {
    let errno = Fresh::enter(plan, rep).private_mounts()?.new_root()?.hostname()?.network()?.credentials()?.process_group()?.stdio()?.hygiene()?.drop_capabilities()?.no_new_privs()?.landlock()?.rlimits()?.exec();
    Ok(())
}

fn main() {}
