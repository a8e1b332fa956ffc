using BenchmarkDotNet.Attributes;
using EvCharge.Charging;
using EvCharge.Domain;

namespace EvCharge.Benchmarks;

/// <summary>The pure money functions every settlement calls: fee from meter values, split, VAT.</summary>
[MemoryDiagnoser]
public class DomainBenchmarks
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 1, 0, 0, TimeSpan.Zero);
    private readonly Tariff _flat = Tariff.Flat("flat", 300);
    private readonly Commission _commission = new(1_000, 100);
    private MeterSample[] _samples = [];

    [Params(6, 60)]
    public int Samples { get; set; }

    [GlobalSetup]
    public void Setup() =>
        _samples = Enumerable.Range(1, Samples).Select(i => new MeterSample(Start.AddMinutes(i), i * 200L)).ToArray();

    [Benchmark]
    public long Fee() => FeeCalculator.Compute(_flat, 0, Start, _samples, Samples * 200L + 100, Start.AddMinutes(Samples + 1)).Fee;

    [Benchmark]
    public int Split() => SplitCalculator.Split(12_345, _commission, "cpo-settlement", "platform-operator").Count;

    [Benchmark]
    public long VatReceipt() => Vat.Receipt(12_345).Vat;
}
