// a later stage forged directly instead of reached through the steps
use rustbox::chain::Sealed;

fn main() {
    let s: Sealed<'static> = Sealed { ctx: todo!(), exec: todo!() };
    let _ = s.exec();
}
