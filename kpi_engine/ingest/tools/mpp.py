"""MS Project .mpp files, read with MPXJ and mapped as MS Project XML.

MPXJ (LGPL, PyPI ``mpxj``) is a Java library run through JPype.  It reads the .mpp and
writes it as MS Project XML in memory; :func:`~kpi_engine.ingest.tools.mspdi.read_mspdi`
then maps that XML, so an .mpp gives exactly what the same plan saved as XML gives
(data/sample/exports/README.md).

The Java virtual machine starts on the first .mpp only (about a second), never for other
files, and stays up for the life of the process (a JVM cannot be restarted).  Without a
Java runtime an .mpp upload is refused with what to install (Debian/Ubuntu:
``default-jre-headless``), or to save the plan as XML instead.
"""

from __future__ import annotations

import threading
from typing import Any

from kpi_engine.core.errors import InputError
from kpi_engine.ingest.model import Outcome, SourceFile
from kpi_engine.ingest.tools.mspdi import read_mspdi

SAVE_AS_XML = "or in MS Project save the plan with File > Save As > XML Format and upload that file"
NO_JAVA = (
    "reading .mpp files needs a Java runtime (Java 11 or later), and none was found; install one "
    "(Debian/Ubuntu: apt-get install default-jre-headless), " + SAVE_AS_XML
)
NO_MPXJ = (
    "reading .mpp files needs the Python packages mpxj and JPype1 (see requirements.txt), "
    "which are not installed; install them, " + SAVE_AS_XML
)

_lock = threading.Lock()
_classes: dict[str, Any] = {}


def _java() -> dict[str, Any]:
    """The MPXJ classes, starting the JVM on first use.

    Raises
    ------
    InputError
        MPXJ or a Java runtime is missing.
    """
    with _lock:
        if _classes:
            return _classes
        try:
            import jpype
            import mpxj  # noqa: F401  (puts the MPXJ jars on the class path)
        except ImportError:
            raise InputError(NO_MPXJ) from None
        if not jpype.isJVMStarted():
            try:
                # Log4j (inside MPXJ's dependencies) would print a warning on every start: keep it quiet
                jpype.startJVM(
                    "-Dlog4j2.loggerContextFactory=org.apache.logging.log4j.simple.SimpleLoggerContextFactory",
                    "-Dorg.apache.logging.log4j.simplelog.StatusLogger.level=OFF",
                    convertStrings=False,
                )
            except (jpype.JVMNotFoundException, jpype.JVMNotSupportedException, OSError):
                raise InputError(NO_JAVA) from None
        from java.io import ByteArrayInputStream, ByteArrayOutputStream
        from org.mpxj.mspdi import MSPDIWriter
        from org.mpxj.reader import UniversalProjectReader

        _classes.update(
            reader=UniversalProjectReader,
            writer=MSPDIWriter,
            bytes_in=ByteArrayInputStream,
            bytes_out=ByteArrayOutputStream,
            java_exception=jpype.JException,
        )
        return _classes


def mpp_to_xml(data: bytes) -> bytes:
    """Convert the bytes of a plan MPXJ reads (.mpp) into MS Project XML.

    Raises
    ------
    InputError
        No Java runtime or MPXJ; a file protected with a password, damaged, of a version
        MPXJ does not read, or not a plan at all.
    """
    java = _java()
    try:
        project = java["reader"]().read(java["bytes_in"](data))
    except java["java_exception"] as err:
        raise InputError(_reader_problem(str(err.message() or err))) from None
    if project is None:
        raise InputError(
            "the file is not an MS Project plan: it holds no format MPXJ reads; it may be damaged, "
            "or another kind of file renamed .mpp"
        )
    out = java["bytes_out"]()
    try:
        java["writer"]().write(project, out)
    except java["java_exception"] as err:
        raise InputError(f"the plan cannot be converted to MS Project XML ({err.message()})") from None
    return bytes(out.toByteArray())


def _reader_problem(text: str) -> str:
    """A message for a plan MPXJ cannot read (its own text is one line for programmers).

    MPXJ says "File is password protected" for a protected plan, and "Invalid file format"
    followed by the format's name (``MSProject.MPP7``) for an .mpp of a version it does not
    read (MS Project 95 and older); anything else is a damaged file.
    """
    first = text.strip().splitlines()[0] if text.strip() else "no detail"
    lower = first.lower()
    if "password" in lower or "encrypt" in lower:
        return (
            "the plan is protected with a password; remove the password in MS Project "
            "(File > Save As > Tools > General Options) and upload it again, " + SAVE_AS_XML
        )
    if "unsupported" in lower or ("invalid file format" in lower and "msproject" in lower):
        return (
            f"the plan was saved by a version of MS Project this program cannot read ({first}); "
            "plans of MS Project 98 and later are read; open it in a current MS Project and save it again, "
            + SAVE_AS_XML
        )
    return f"the plan is damaged and cannot be read ({first}); " + SAVE_AS_XML


def read_mpp(file: SourceFile) -> Outcome:
    """Map an .mpp file onto milestones, tasks and dependencies (through MS Project XML).

    Raises
    ------
    InputError
        See :func:`mpp_to_xml` and :func:`~kpi_engine.ingest.tools.mspdi.read_mspdi`.
    """
    return read_mspdi(file, mpp_to_xml(file.data))
