// One line of `mvtap doctor`: what was checked, how it came out and, when not OK, how to fix it.
// An error means mvtap cannot work as configured (doctor exits 1); a warning that it works with less.
namespace Mvtap.Cli.Doctor;

internal enum Severity { Ok, Warn, Error }

internal sealed record DoctorFinding(string Check, Severity Severity, string Detail, string? Fix = null)
{
    public static DoctorFinding Ok(string check, string detail) => new(check, Severity.Ok, detail);
    public static DoctorFinding Warn(string check, string detail, string fix) => new(check, Severity.Warn, detail, fix);
    public static DoctorFinding Error(string check, string detail, string fix) => new(check, Severity.Error, detail, fix);

    public string Word => Severity switch { Severity.Ok => "OK", Severity.Warn => "WARN", _ => "ERROR" };
}
