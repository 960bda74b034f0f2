// Assembly-wide attributes: the guest tests use Linux-only interop (namespaces, QEMU, /dev nodes).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
