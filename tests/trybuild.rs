//! The type-state chain: every misordered or skipped step must fail to compile, and
//! the one valid order must compile. Snapshots of the compiler's errors live next to
//! each case (regenerate with TRYBUILD=overwrite after a toolchain change; the
//! toolchain is pinned in rust-toolchain.toml).

#[test]
fn misordered_chains_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("trybuild/*.rs");
    t.pass("trybuild/pass/*.rs");
}
