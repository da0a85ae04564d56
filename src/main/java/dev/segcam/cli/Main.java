package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.io.Rollback;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

/**
 * The {@code segcam} command. Subcommands are registered here. Exit codes: 0 success, 1 an error
 * while running (one line "segcam: error: ..." on stderr; the stack trace only with {@code
 * --verbose}), 2 an unusable command line (one line plus a hint to --help).
 */
@Command(
    name = "segcam",
    mixinStandardHelpOptions = true,
    version = "segcam 0.1.0",
    description = "Seg-Grad-CAM for TensorFlow SavedModels.",
    subcommands = {
      ExplainCommand.class,
      LayersCommand.class,
      VideoCommand.class,
      BenchCommand.class,
      EvalCommand.class
    })
public final class Main implements Callable<Integer> {
  /** A typed segcam error: bad model, bad arguments that passed parsing, missing files. */
  public static final int EXIT_ERROR = 1;

  /** Picocli's code for unparseable command lines. */
  public static final int EXIT_USAGE = 2;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    stopCleanlyOnSignals();
    int code = commandLine().execute(args);
    if (Rollback.stopped()) {
      awaitHalt(); // the signal handler undoes the outputs and exits with 128 + the signal
    }
    System.exit(code);
  }

  /** Longest the main thread waits for the signal handler to end the process. */
  private static final long HALT_WAIT_MS = 10_000;

  private static void awaitHalt() {
    Staging.sleep(HALT_WAIT_MS);
  }

  /** Exit status of a run stopped by a signal: 128 + its number, as shells report it. */
  static final int SIGNAL_EXIT_BASE = 128;

  /**
   * SIGINT (Ctrl-C) and SIGTERM undo the run's unfinished outputs ({@link Rollback}), say so in one
   * line on stderr and exit with 128 + the signal's number.
   */
  private static void stopCleanlyOnSignals() {
    for (String name : List.of("INT", "TERM")) {
      try {
        Signal.handle(
            new Signal(name),
            sig -> {
              List<String> said = Rollback.rollBack();
              System.out.flush();
              System.err.println(
                  "segcam: stopped by SIG"
                      + name
                      + ": "
                      + (said.isEmpty() ? "nothing was written" : String.join("; ", said)));
              System.err.flush();
              Runtime.getRuntime().halt(SIGNAL_EXIT_BASE + sig.getNumber());
            });
      } catch (IllegalArgumentException e) {
        // the signal is not available here (or the JVM reserves it): keep the default
      }
    }
    // any other way out while outputs are unfinished (SIGHUP, an exit from elsewhere): same undo
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  List<String> said = Rollback.rollBack();
                  if (!said.isEmpty()) {
                    System.err.println("segcam: exiting: " + String.join("; ", said));
                    System.err.flush();
                  }
                },
                "segcam-rollback"));
  }

  /** The configured command line (tests call execute on it with captured writers). */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    for (CommandLine sub : cl.getSubcommands().values()) {
      // commands without the shared options still accept --verbose (stack traces of errors)
      if (sub.getCommandSpec().findOption("--verbose") == null) {
        sub.addMixin("verbose", new SharedOptions.Verbose());
      }
    }
    cl.setExecutionExceptionHandler(Main::handle);
    cl.setParameterExceptionHandler(Main::usageError);
    return cl;
  }

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getOut());
    return EXIT_USAGE;
  }

  private static int usageError(CommandLine.ParameterException e, String[] args) {
    CommandLine cl = e.getCommandLine();
    PrintWriter err = cl.getErr();
    err.println("segcam: " + oneLine(e.getMessage()));
    String cmd = cl.getCommandSpec().qualifiedName();
    err.println("Try '" + cmd + " --help' for more information.");
    err.flush();
    return EXIT_USAGE;
  }

  private static int handle(Exception e, CommandLine cl, ParseResult parsed) {
    PrintWriter err = cl.getErr();
    if (Rollback.stopped()) {
      return EXIT_ERROR; // stopped by a signal: its handler says so in one line
    }
    boolean verbose = false;
    for (ParseResult p = parsed; p != null; p = p.subcommand()) {
      verbose |= p.hasMatchedOption("--verbose");
    }
    if (e instanceof SegcamException) {
      err.println("segcam: error: " + oneLine(e.getMessage()));
    } else {
      err.println(
          "segcam: internal error: "
              + e.getClass().getSimpleName()
              + (e.getMessage() == null ? "" : ": " + oneLine(e.getMessage()))
              + (verbose ? "" : " (run with --verbose for details)"));
    }
    if (verbose) {
      e.printStackTrace(err);
    }
    err.flush();
    return EXIT_ERROR;
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replace('\n', ' ');
  }
}
