# bash completion for fitpack(1)                         -*- shell-script -*-
# SPDX-License-Identifier: MIT
#
# Installed as <datadir>/bash-completion/completions/fitpack and loaded on
# demand by bash-completion. Every option, every option's value list
# (codecs, hashes, signature algorithms, {a,b} choices) comes from the
# --help of the fitpack being completed, so the completion cannot drift
# from the program: `fitpack --help` (packing, and the value lists),
# `fitpack VERB --help` (list, verify, extract, sign), `fitpack sign
# --complete --help` (the second step of two-step signing), `fitpack -f
# --help` (-f IMAGE.its and `fitpack mkimage`).
#
# As in bash-completion's own completions, candidates are split from
# compgen's output (none has a blank, bar file names, which _filedir and
# mapfile take) and compgen -W expands its single-quoted word list itself.
# shellcheck disable=SC2207,SC2016

# Reads the options `"$@"` prints into the caller's _fitpack_opts (every
# spelling, in order) and _fitpack_args (spelling -> value placeholder, for
# the options that take a value). An option line starts with blanks and a
# dash: CLI11's "-A,--arch TEXT REQUIRED   text" or the .its help's
# "-o, --output FILE  text", "-a HEX, -e HEX  text". A placeholder follows
# its option after one space and is upper case ("TEXT:{1,2,auto}=1",
# "FILE|auto", "N") or quoted ("DTC OPTS"); CLI11's "Excludes:" is not one.
_fitpack_parse_help()
{
    local line rest name placeholder shared
    local -a names
    while IFS= read -r line; do
        [[ $line =~ ^[[:blank:]]+- ]] || continue
        rest=${line#"${line%%[![:blank:]]*}"}
        names=() shared=
        while [[ $rest =~ ^(--?[A-Za-z0-9][-A-Za-z0-9]*)(.*)$ ]]; do
            name=${BASH_REMATCH[1]} rest=${BASH_REMATCH[2]}
            names+=("$name")
            _fitpack_opts+=("$name")
            if [[ $rest =~ ^\ (\"[^\"]*\"|[A-Z][A-Z0-9_]*([^a-z[:space:]][^[:space:]]*)?)([[:space:]].*)?$ ]]; then
                placeholder=${BASH_REMATCH[1]} rest=${BASH_REMATCH[3]}
                _fitpack_args[$name]=$placeholder
                shared=$placeholder
            fi
            [[ $rest =~ ^(,\ ?|\ )(-.*)$ ]] || break
            rest=${BASH_REMATCH[2]}
        done
        # "-o, --output FILE": -o takes the FILE too.
        if [[ $shared ]]; then
            for name in "${names[@]}"; do
                [[ ${_fitpack_args[$name]+set} ]] || _fitpack_args[$name]=$shared
            done
        fi
    done < <(LC_ALL=C "$@" 2>/dev/null)
}

# The description of option $2 in the --help of command $1 (CLI11's
# layout: on the option's line, or the next one when the option is long).
_fitpack_describe()
{
    local line found=
    while IFS= read -r line; do
        if [[ $found ]]; then
            printf '%s\n' "${line#"${line%%[![:blank:]]*}"}"
            return
        fi
        if [[ $line =~ ^[[:blank:]]+(-[A-Za-z0-9],)?$2\ [A-Z]+[^[:blank:]]*(\ ?[A-Z][a-z]+:\ [^[:blank:]]+)?(\ +(.*))?$ ]]; then
            [[ ${BASH_REMATCH[4]} ]] && { printf '%s\n' "${BASH_REMATCH[4]}"; return; }
            found=1
        fi
    done < <(LC_ALL=C "$1" --help 2>/dev/null)
}

# True when option $1 takes a value (after _fitpack_parse_help).
_fitpack_takes_value()
{
    [[ $1 == -* && ${_fitpack_args[$1]+set} ]]
}

# Codec names: the end of --compress's description, "...: none, gzip, ...".
_fitpack_codecs()
{
    local text
    local -a names
    text=$(_fitpack_describe "$1" --compress)
    IFS=', ' read -ra names <<<"${text##*: }"
    printf '%s\n' "${names[@]}"
}

# Hash names: --hash's "(crc16-ccitt, crc32, ...), or none" (without
# "none" when $2 is "algos": one algo to add).
_fitpack_hashes()
{
    local text
    local -a names
    text=$(_fitpack_describe "$1" --hash)
    [[ $text =~ \(([^\)]*)\) ]] || return
    IFS=', ' read -ra names <<<"${BASH_REMATCH[1]}"
    [[ ${2-} == algos ]] || names+=(none)
    printf '%s\n' "${names[@]}"
}

# Signature algorithms: --sign-algo's "sha1|sha256 , rsa2048|ecdsa256",
# every CHECKSUM,CRYPTO pair.
_fitpack_sign_algos()
{
    local text checksum crypto
    text=$(_fitpack_describe "$1" --sign-algo)
    [[ $text =~ ([a-z0-9|]+)\ ,\ ([a-z0-9|]+) ]] || return
    for checksum in ${BASH_REMATCH[1]//|/ }; do
        for crypto in ${BASH_REMATCH[2]//|/ }; do
            printf '%s\n' "$checksum,$crypto"
        done
    done
}

# The image node names of FIT $2, from `fitpack list`.
_fitpack_images()
{
    local line
    while IFS= read -r line; do
        [[ $line =~ ^\ Image\ [0-9]+\ \((.*)\)$ ]] && printf '%s\n' "${BASH_REMATCH[1]}"
    done < <(LC_ALL=C "$1" list "$2" 2>/dev/null)
}

_fitpack()
{
    local cur prev words cword split
    _init_completion -s || return

    local cmd=$1 mode=pack i word
    local -a help=("$cmd" --help)
    local -a _fitpack_opts=()
    local -A _fitpack_args=()

    # The mode, as fitpack decides it: a verb first (when no file of that
    # name exists), or -f anywhere (alone, attached, or last in a cluster
    # of -E -t -q -v).
    case ${words[1]-} in
        list | verify | extract)
            if ((cword > 1)) && [[ ! -e ${words[1]} ]]; then
                mode=${words[1]} help=("$cmd" "$mode" --help)
            fi
            ;;
        sign)
            # --complete anywhere (as fitpack looks for it) switches to the
            # second step of two-step signing, which has options of its own.
            if ((cword > 1)) && [[ ! -e ${words[1]} ]]; then
                mode=sign help=("$cmd" sign --help)
                for ((i = 2; i < cword; i++)); do
                    if [[ ${words[i]} == --complete ]]; then
                        mode=sign_complete help=("$cmd" sign --complete --help)
                        break
                    fi
                done
            fi
            ;;
        mkimage)
            ((cword > 1)) && mode=mkimage help=("$cmd" -f --help)
            ;;
    esac
    if [[ $mode == pack ]]; then
        for ((i = 1; i < cword; i++)); do
            word=${words[i]}
            [[ $word == -- ]] && break
            if [[ $word =~ ^-[Etqv]*f ]]; then
                mode=its help=("$cmd" -f --help)
                break
            fi
        done
    fi
    _fitpack_parse_help "${help[@]}"
    # `fitpack sign --help` does not list --complete, the switch to the
    # second step: offer it too.
    [[ $mode == sign ]] && _fitpack_opts+=(--complete)

    # The value of the option before the cursor.
    if _fitpack_takes_value "$prev"; then
        case $mode:$prev in
            pack:-c | pack:--compress | pack:--compress-kernel | pack:--compress-fdt | \
                pack:--compress-ramdisk | its:-C | mkimage:-C)
                COMPREPLY=($(compgen -W '$(_fitpack_codecs "$cmd")' -- "$cur"))
                ;;
            pack:--hash)
                # A comma-separated list: complete its last item.
                local head=
                [[ $cur == *,* ]] && head=${cur%,*},
                COMPREPLY=($(compgen -P "$head" -W '$(_fitpack_hashes "$cmd")' -- "${cur##*,}"))
                ;;
            sign:--add-hashes)
                # One hash algo.
                COMPREPLY=($(compgen -W '$(_fitpack_hashes "$cmd" algos)' -- "$cur"))
                ;;
            pack:--sign-algo | sign:--sign-algo | its:--sign-algo | mkimage:--sign-algo | mkimage:-o)
                COMPREPLY=($(compgen -W '$(_fitpack_sign_algos "$cmd")' -- "$cur"))
                ;;
            pack:--key-dir | sign:--key-dir | its:-k | mkimage:-k | its:-I | mkimage:-I | its:--include | mkimage:--include)
                _filedir -d
                ;;
            pack:--key-dtb | verify:--key-dtb | sign:--key-dtb | sign_complete:--key-dtb | its:-K | mkimage:-K | its:-b | mkimage:-b)
                _filedir dtb
                ;;
            pack:--pin-file | sign:--pin-file | its:--pin-file | mkimage:--pin-file)
                _filedir
                ;;
            pack:--key | sign:--key | its:-G | mkimage:-G)
                _filedir '@(key|pem)'
                ;;
            pack:--public-key | sign:--public-key | sign_complete:--public-key)
                _filedir pem
                ;;
            pack:--sign-command | sign:--sign-command)
                _filedir
                ;;
            its:-f | mkimage:-f)
                _filedir its
                [[ auto == "$cur"* ]] && COMPREPLY+=(auto)
                ;;
            pack:-k | pack:--kernel | pack:-r | pack:--ramdisk | pack:--files-from | pack:--loadable | \
                pack:-o | pack:--output | pack:--depfile | extract:-o | extract:--output | \
                sign:-o | sign:--output | sign:--request | sign_complete:-o | sign_complete:--output | \
                sign_complete:--signatures | \
                its:-o | its:--output | mkimage:--output | its:-d | mkimage:-d | its:-i | mkimage:-i)
                _filedir
                ;;
            *)
                # CLI11's choices, "TEXT:{1,2,auto}=1"; else free text.
                local placeholder=${_fitpack_args[$prev]}
                if [[ $placeholder =~ :\{([^\}]*)\} ]]; then
                    COMPREPLY=($(IFS=, compgen -W '${BASH_REMATCH[1]}' -- "$cur"))
                fi
                ;;
        esac
        return
    fi
    $split && return

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '${_fitpack_opts[@]}' -- "$cur"))
        return
    fi

    # Response files: @FILE.
    if [[ $mode == pack && $cur == @* ]]; then
        mapfile -t COMPREPLY < <(compgen -P @ -f -- "${cur#@}")
        compopt -o filenames 2>/dev/null
        return
    fi

    case $mode in
        pack)
            # The verbs first, then the DTBs (_filedir adds to COMPREPLY).
            ((cword == 1)) && COMPREPLY=($(compgen -W 'list verify extract sign mkimage' -- "$cur"))
            local pattern=dtb
            [[ " ${words[*]} " == *" --overlays "* ]] && pattern='@(dtb|dtbo)'
            _filedir "$pattern"
            ;;
        list | verify | extract | sign | sign_complete)
            # Positionals: FIT, then (extract) IMAGE.
            local -a positionals=()
            for ((i = 2; i < cword; i++)); do
                word=${words[i]}
                if [[ $word == -* ]]; then
                    [[ $word != *=* ]] && _fitpack_takes_value "$word" && ((i++))
                    continue
                fi
                positionals+=("$word")
            done
            if ((${#positionals[@]} == 0)); then
                _filedir '@(fit|itb)'
            elif [[ $mode == extract ]] && ((${#positionals[@]} == 1)); then
                COMPREPLY=($(compgen -W '$(_fitpack_images "$cmd" "${positionals[0]}")' -- "$cur"))
            fi
            ;;
        its | mkimage)
            # The output, last (as mkimage takes it).
            _filedir
            ;;
    esac
} &&
    complete -F _fitpack fitpack

# ex: filetype=sh
