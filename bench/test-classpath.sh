# Sourced by the bench scripts that run a test-scope program: compiles the tests and sets $cp to
# the test class path (classes + every dependency, cached in target/bench-classpath.txt).
MVN="${MVN:-mvn}"
"$MVN" -B -q -o test-compile -Dsegcam.ptx.skip=true
cpfile=target/bench-classpath.txt
if [ ! -s "$cpfile" ] || [ pom.xml -nt "$cpfile" ]; then
  "$MVN" -B -q -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cpfile"
fi
cp="target/test-classes:target/classes:$(cat "$cpfile")"
