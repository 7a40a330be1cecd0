/// mimalloc rather than the system allocator: loading and planning a large desired state is
/// allocation-bound (a profile of the core benchmark spent over a quarter of its time in
/// glibc's malloc and free), and mimalloc's thread-local free lists make that much cheaper.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sophia::cli::main()
}
