fn main() -> std::process::ExitCode {
    campaignctl::main()
}
