// mimalloc: apply's planning thread allocates what the sending thread frees, which glibc's
// allocator handles poorly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    campaignctl::run()
}
