// The targets drive Linux-only parts (sockets, memfds, the daemon's registry).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
