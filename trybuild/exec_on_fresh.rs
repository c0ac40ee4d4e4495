// exec straight from a fresh stage
use rustbox::{chain::{Fresh, Reporter}, plan::ContainPlan};
use rustbox::sys::error::StepError;

#[allow(unreachable_code, unused_variables)]
fn chain(plan: &ContainPlan, rep: &Reporter) -> Result<(), StepError> {
    let errno = Fresh::enter(plan, rep).exec();
    Ok(())
}

fn main() {}
