"""The Gateway side: exports hosts pull, eligibility, the enrolled-factory list."""
