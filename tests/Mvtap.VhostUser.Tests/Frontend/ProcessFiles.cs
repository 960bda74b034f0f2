// What this test process holds of a file, by name, as /proc/self shows it: open descriptors
// and mappings. A refused memory table must leave neither behind in the backend.
namespace Mvtap.VhostUser.Tests.Frontend;

public static class ProcessFiles
{
    /// <summary>How many descriptors of this process name the memfd called <paramref name="name"/>.</summary>
    public static int OpenCopies(string name)
    {
        int n = 0;
        foreach (var link in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(link).LinkTarget?.Contains(name, StringComparison.Ordinal) == true) n++;
            }
            catch (IOException) { /* closed meanwhile */ }
        }
        return n;
    }

    /// <summary>How many mappings of this process map the memfd called <paramref name="name"/>.</summary>
    public static int Mappings(string name) =>
        File.ReadLines("/proc/self/maps").Count(l => l.Contains($"/memfd:{name}", StringComparison.Ordinal));
}
