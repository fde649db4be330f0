# Shell functions the scripts share; each sources it from its own directory:
#   . "$(dirname "$0")/lib.sh"

# alive PID: PID runs. A zombie does not, though kill -0 says yes to one: a
# machine whose init reaps slowly keeps the zombies of a killed run for a
# while, and Podman, netavark and these scripts must not take them for live.
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st#Z}" = "$st" ]; }
