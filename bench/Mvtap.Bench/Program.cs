// Runs the core microbenchmarks: dotnet run -c Release --project bench/Mvtap.Bench [-- --filter *]
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Mvtap.Bench.ForwardingBenchmarks).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args);
