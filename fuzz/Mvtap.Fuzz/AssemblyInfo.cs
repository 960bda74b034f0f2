// The harness drives Linux-only parts (the daemon's registry and state, sockets, memfds).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
