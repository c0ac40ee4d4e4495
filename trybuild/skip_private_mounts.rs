// new_root before the mount propagation is private
use rustbox::{chain::{Fresh, Reporter}, plan::ContainPlan};
use rustbox::sys::error::StepError;

#[allow(unreachable_code, unused_variables)]
fn chain(plan: &ContainPlan, rep: &Reporter) -> Result<(), StepError> {
    let s = Fresh::enter(plan, rep).new_root()?;
    Ok(())
}

fn main() {}
