// Replays every fuzz target's committed corpus (fuzz/corpus/TARGET/: seeds and the inputs AFL
// kept, crashes found and fixed among them) through the target's entry function, without AFL:
// an input that throws is a regression. One class, so the targets' shared buffers are never
// used by two inputs at once.
using Mvtap.Fuzz;

namespace Mvtap.Fuzz.Tests;

public class CorpusReplayTests
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "corpus");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var t in FuzzTargets.All)
        {
            var dir = Path.Combine(Corpus, t.Name);
            if (!Directory.Exists(dir)) continue;
            foreach (var f in Directory.GetFiles(dir).Order(StringComparer.Ordinal)) data.Add(t.Name, Path.GetFileName(f));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void A_corpus_input_runs_through_its_target_without_an_exception_the_decoder_does_not_document(string target, string input)
    {
        var t = FuzzTargets.Find(target)!;
        t.Run(File.ReadAllBytes(Path.Combine(Corpus, target, input)));
    }

    [Fact]
    public void Every_target_has_a_corpus_and_every_corpus_a_target()
    {
        var targets = FuzzTargets.All.Select(t => t.Name).Order().ToArray();
        var corpora = Directory.GetDirectories(Corpus).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(targets, corpora);
        foreach (var t in targets) Assert.NotEmpty(Directory.GetFiles(Path.Combine(Corpus, t)));
    }

    [Fact]
    public void Every_target_names_the_assemblies_to_instrument_and_they_are_built_with_it()
    {
        foreach (var t in FuzzTargets.All)
        {
            Assert.NotEmpty(t.Instrument);
            foreach (var a in t.Instrument) Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, a)), $"{t.Name}: {a}");
        }
    }
}
