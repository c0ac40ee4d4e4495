// exec as root right after pivot_root
use rustbox::{chain::{Fresh, Reporter}, plan::ContainPlan};
use rustbox::sys::error::StepError;

#[allow(unreachable_code, unused_variables)]
fn chain(plan: &ContainPlan, rep: &Reporter) -> Result<(), StepError> {
    let errno = Fresh::enter(plan, rep).private_mounts()?.new_root()?.exec();
    Ok(())
}

fn main() {}
