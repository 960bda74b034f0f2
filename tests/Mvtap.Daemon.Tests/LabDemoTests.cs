// The demo's namespace lab as a differential test of the whole stack: mvtapd with macvlan
// endpoints on a real lower and the kernel's macvtap on the same external switch give the
// same reachability table, and it is the seed's; the host reaches A through mvtap's host port in
// every mode (the column A-hostport, which the kernel side has not).
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public class LabDemoTests
{
    [Fact]
    public void Mvtap_and_the_kernel_reach_the_same_peers_in_every_mode()
    {
        Assert.True(TestHost.IsRoot, "the lab needs root");
        var rows = LabDemo.Run(TextWriter.Null);
        var expected = new Dictionary<string, bool[]>
        {
            ["vepa"] = [false, false, false, true],
            ["vepa, hairpin switch"] = [true, true, true, true],
            ["bridge"] = [true, true, true, true],
            ["private"] = [false, false, false, true],
            ["private, hairpin switch"] = [false, false, false, true],
        };
        foreach (var row in rows)
        {
            Assert.True(row.Kernel.SequenceEqual(expected[row.Title]), $"kernel, {row.Title}: {string.Join(",", row.Kernel)}");
            Assert.True(row.Mvtap.SequenceEqual(row.Kernel), $"mvtap differs from the kernel in {row.Title}: {string.Join(",", row.Mvtap)}");
            Assert.True(row.HostPort, $"the host does not reach A through the host port in {row.Title}");
        }
        Assert.Equal(expected.Count, rows.Count);
    }
}
