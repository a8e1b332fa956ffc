using BenchmarkDotNet.Running;

// dotnet run -c Release --project load-tests/benchmarks -- --filter '*'            (full runs)
// dotnet run -c Release --project load-tests/benchmarks -- --filter '*' --job short (what scripts/benchmark.sh runs)
BenchmarkSwitcher.FromAssembly(typeof(EvCharge.Benchmarks.DomainBenchmarks).Assembly).Run(args);
