fn main() -> std::process::ExitCode {
    sophia::cli::main()
}
